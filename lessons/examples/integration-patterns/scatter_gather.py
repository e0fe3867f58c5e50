"""Scatter-gather: ask three carriers for a shipping quote, then gather under three completion rules."""
import random
import statistics

rng = random.Random(42)
FALLBACK_PRICE = 9.90  # flat rate used when no quote arrives in time


def carrier_replies():
    """(latency ms, price) per carrier for one request; carrier C is cheapest but has a slow tail."""
    a = (rng.uniform(80, 160), round(rng.uniform(7.6, 8.2), 2))
    b = (rng.uniform(100, 220), round(rng.uniform(7.3, 7.9), 2))
    c = (rng.uniform(2000, 3000) if rng.random() < 0.05 else rng.uniform(90, 200), round(rng.uniform(6.6, 7.2), 2))
    return [a, b, c]


def gather(replies, rule):
    ordered = sorted(replies)  # by arrival time
    if rule == "wait for all":
        used, waited = ordered, ordered[-1][0]
    elif rule == "first 2 of 3":
        used, waited = ordered[:2], ordered[1][0]
    else:  # deadline 300 ms: take whatever has arrived, never wait longer
        used = [r for r in ordered if r[0] <= 300]
        waited = ordered[-1][0] if len(used) == len(ordered) else 300
    price = min((p for _, p in used), default=FALLBACK_PRICE)
    return waited, price, len(used) == len(replies)


requests = [carrier_replies() for _ in range(10_000)]
print(f"{'rule':<16}{'p50 ms':>8}{'p99 ms':>8}{'avg price':>11}{'all 3 in':>10}")
for rule in ("wait for all", "first 2 of 3", "deadline 300ms"):
    results = [gather(r, rule) for r in requests]
    waits = sorted(w for w, _, _ in results)
    p50, p99 = waits[len(waits) // 2], waits[int(len(waits) * 0.99)]
    avg_price = statistics.fmean(p for _, p, _ in results)
    complete = sum(c for _, _, c in results) / len(results)
    print(f"{rule:<16}{p50:>8.0f}{p99:>8.0f}{avg_price:>11.3f}{complete:>10.1%}")
