"""Hedged requests: if the first copy is slow, send a second to another replica.

A replica answers in 8-20 ms; 4% of calls hit a pause of 100-300 ms and 1% take
1,000 ms. The caller keeps whichever answer arrives first.
"""
import random

rng = random.Random(7)


def replica_ms():
    roll = rng.random()
    if roll < 0.01:
        return 1000.0
    if roll < 0.05:
        return rng.uniform(100, 300)
    return rng.uniform(8, 20)


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


N = 100_000
p95 = pct([replica_ms() for _ in range(N)], 95)
print(f"one replica's p95: {p95:.0f} ms\n")
print(f"{'policy':<24}{'p50':>6}{'p99':>7}{'p99.9':>7}{'extra calls':>13}")
for name, hedge_after in (("no hedging", None), ("hedge after p95", p95), ("always send two", 0.0)):
    latencies, hedges = [], 0
    for _ in range(N):
        first = replica_ms()
        if hedge_after is not None and first > hedge_after:
            hedges += 1                       # still waiting at the hedge delay: send a copy
            first = min(first, hedge_after + replica_ms())
        latencies.append(first)
    row = [pct(latencies, p) for p in (50, 99, 99.9)]
    print(f"{name:<24}{row[0]:>6.0f}{row[1]:>7.0f}{row[2]:>7.0f}{hedges / N:>13.1%}")
