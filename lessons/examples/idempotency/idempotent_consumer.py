"""At-least-once delivery meets three consumers; only one charges each order once."""
import random
import sqlite3

rng = random.Random(42)
messages = [{"id": f"m{i}", "cents": c} for i, c in enumerate([1500, 4999, 250, 12000, 800], 1)]
deliveries = []
for m in messages:
    deliveries.append(m)
    if rng.random() < 0.4:
        deliveries.append(m)  # the ack was lost, so the broker delivers it again


class Crash(Exception):
    pass


def run(style):
    db = sqlite3.connect(":memory:", isolation_level=None)  # explicit transactions
    db.execute("CREATE TABLE charges (msg TEXT, cents INT)")
    db.execute("CREATE TABLE processed (msg TEXT PRIMARY KEY)")
    crashed = False
    queue = list(deliveries)
    while queue:
        m = queue.pop(0)
        try:
            db.execute("BEGIN")
            if style == "atomic":
                try:  # the dedup record and the effect commit together or not at all
                    db.execute("INSERT INTO processed VALUES (?)", (m["id"],))
                except sqlite3.IntegrityError:
                    db.execute("ROLLBACK")
                    continue
            elif style == "check, then record" and db.execute(
                    "SELECT 1 FROM processed WHERE msg = ?", (m["id"],)).fetchone():
                db.execute("ROLLBACK")
                continue
            db.execute("INSERT INTO charges VALUES (?, ?)", (m["id"], m["cents"]))
            if style != "atomic":
                db.execute("COMMIT")  # the charge is now permanent
            if m["id"] == "m3" and not crashed:
                crashed = True
                raise Crash  # process dies before it records or acks m3
            if style == "check, then record":
                db.execute("INSERT INTO processed VALUES (?)", (m["id"],))
            if style == "atomic":
                db.execute("COMMIT")
        except Crash:
            if db.in_transaction:
                db.execute("ROLLBACK")
            queue.insert(0, m)  # no ack, so the broker redelivers it
    return db.execute("SELECT COUNT(*), SUM(cents) FROM charges").fetchone()


print("deliveries:", " ".join(m["id"] for m in deliveries), "(and m3 again after the crash)")
print(f"correct total: {len(messages)} charges, {sum(m['cents'] for m in messages)} cents")
for style in ("naive", "check, then record", "atomic"):
    count, cents = run(style)
    print(f"{style:<20} {count} charges, {cents} cents")
