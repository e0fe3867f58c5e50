"""Dual write vs transactional outbox when the process dies at the wrong moment."""
import json
import sqlite3

db = sqlite3.connect(":memory:", isolation_level=None)
db.execute("CREATE TABLE orders (id TEXT PRIMARY KEY, total INT)")
db.execute("CREATE TABLE outbox (event_id INTEGER PRIMARY KEY, payload TEXT, sent INT DEFAULT 0)")
broker = []  # what consumers will see


# 1. Dual write: commit the order, then publish. A crash in between loses the event.
db.execute("INSERT INTO orders VALUES ('o-1', 4999)")  # autocommit: durable now
killed_between_writes = True  # a deploy or OOM kill lands right here
if not killed_between_writes:
    broker.append({"type": "order.placed", "order": "o-1"})
print("dual write: orders in db:", db.execute("SELECT COUNT(*) FROM orders").fetchone()[0],
      "| events published:", len(broker))


# 2. Outbox: the order and its event are written in ONE local transaction.
def place_order(order_id, total):
    db.execute("BEGIN")
    db.execute("INSERT INTO orders VALUES (?, ?)", (order_id, total))
    event = {"type": "order.placed", "order": order_id}
    db.execute("INSERT INTO outbox (payload) VALUES (?)", (json.dumps(event),))
    db.execute("COMMIT")


def relay(crash_after_publish=False):
    # Runs on its own: publish unsent rows, then mark them sent.
    rows = db.execute("SELECT event_id, payload FROM outbox WHERE sent = 0").fetchall()
    for event_id, payload in rows:
        broker.append({"event_id": event_id, **json.loads(payload)})
        if crash_after_publish:
            return  # published but never marked: it will be published again
        db.execute("UPDATE outbox SET sent = 1 WHERE event_id = ?", (event_id,))


place_order("o-2", 1200)
place_order("o-3", 800)
relay(crash_after_publish=True)
relay()
outboxed = broker[len(broker) - 3:]
print("outbox: published", [e["event_id"] for e in outboxed], "(event 1 twice: at-least-once)")

seen, handled = set(), []  # a real consumer keeps `seen` in its own database
for e in outboxed:
    if e["event_id"] not in seen:
        seen.add(e["event_id"])
        handled.append(e["order"])
print("consumer handled once each:", handled)
