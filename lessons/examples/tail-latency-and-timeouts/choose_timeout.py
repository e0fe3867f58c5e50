"""Pick a timeout from the false-timeout rate you accept, then check it fits the budget.

Inventory Service's healthy latency: mostly 20-60 ms, 2% at 60-150 ms, 0.2% at
150-400 ms (garbage collection, cold caches). 200,000 recorded calls.
"""
import random

rng = random.Random(3)


def healthy_ms():
    roll = rng.random()
    if roll < 0.002:
        return rng.uniform(150, 400)
    if roll < 0.022:
        return rng.uniform(60, 150)
    return rng.uniform(20, 60)


samples = sorted(healthy_ms() for _ in range(200_000))


def pct(p):
    return samples[min(len(samples) - 1, int(p / 100 * len(samples)))]


print(f"{'false timeouts accepted':>24}{'timeout = percentile':>22}{'value (ms)':>12}{'measured':>10}")
for rate, p in ((0.01, 99), (0.001, 99.9), (0.0001, 99.99)):
    timeout = pct(p)
    measured = sum(ms > timeout for ms in samples) / len(samples)
    print(f"{rate:>24.2%}{'p' + str(p):>22}{timeout:>12.0f}{measured:>10.3%}")

# Checkout promises an answer within 1,000 ms. Before calling inventory it spends
# 250 ms on its own work and payment; it wants room for one retry after a
# jittered pause of up to 100 ms, and keeps 50 ms to build the response.
BUDGET, BEFORE, PAUSE, AFTER = 1000, 250, 100, 50
per_try_max = (BUDGET - BEFORE - PAUSE - AFTER) / 2
print(f"\nroom per attempt with one retry: ({BUDGET} - {BEFORE} - {PAUSE} - {AFTER}) / 2 = {per_try_max:.0f} ms")
print(f"p99.9 timeout {pct(99.9):.0f} ms fits: {pct(99.9) <= per_try_max}")
print(f"a 500 ms timeout leaves for a retry: {BUDGET - BEFORE - AFTER - 500:.0f} ms (needs {PAUSE} + 500)")
