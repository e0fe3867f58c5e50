"""Fan-out turns one backend's rare slow reply into a common slow page.

Each backend answers in 5-15 ms, except 1 call in 100 that takes 1,000 ms.
A user request waits for the slowest of the N backends it calls in parallel.
"""
import random

rng = random.Random(42)


def backend_ms():
    return 1000.0 if rng.random() < 0.01 else rng.uniform(5, 15)


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


print(f"{'backends N':>10}{'P(at least one slow) = 1 - 0.99^N':>36}")
for n in (1, 10, 50, 100, 500):
    print(f"{n:>10}{1 - 0.99 ** n:>36.1%}")

print(f"\n{'N':>4}{'p50 (ms)':>10}{'p90 (ms)':>10}{'p99 (ms)':>10}{'requests over 500 ms':>22}")
for n in (1, 10, 100):
    pages = [max(backend_ms() for _ in range(n)) for _ in range(10_000)]
    slow = sum(ms > 500 for ms in pages) / len(pages)
    print(f"{n:>4}{pct(pages, 50):>10.0f}{pct(pages, 90):>10.0f}{pct(pages, 99):>10.0f}{slow:>22.1%}")
