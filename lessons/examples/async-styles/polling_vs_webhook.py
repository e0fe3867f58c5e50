"""How many requests and how much delay: polling a job's status vs a webhook."""
import math

JOBS = [0.8, 3.1, 9.4, 12.0, 45.5]  # seconds each job takes after 202 Accepted


def fixed(interval):
    return lambda n: interval * n  # time of the n-th poll (n = 1, 2, ...)


def backoff(first, cap):
    # Poll at 1, 3, 7, 15, ... seconds: the gap doubles up to `cap`.
    def at(n):
        t, gap = 0.0, first
        for _ in range(n):
            t += gap
            gap = min(gap * 2, cap)
        return t
    return at


def poll(schedule, finish):
    n = 1
    while schedule(n) < finish:
        n += 1
    return n, schedule(n) - finish  # requests made, delay before the client knows


print(f"{'strategy':<22}{'requests':>9}{'avg delay':>11}{'worst delay':>13}")
for name, schedule in [("poll every 1 s", fixed(1)), ("poll every 5 s", fixed(5)),
                       ("poll 1,2,4.. cap 16 s", backoff(1, 16))]:
    results = [poll(schedule, f) for f in JOBS]
    reqs = sum(r for r, _ in results)
    delays = [d for _, d in results]
    print(f"{name:<22}{reqs:>9}{sum(delays) / len(delays):>10.1f}s{max(delays):>12.1f}s")

# A webhook is one POST per job, sent when the job finishes (say 50 ms to arrive).
print(f"{'webhook':<22}{len(JOBS):>9}{0.05:>10.2f}s{0.05:>12.2f}s")
print(f"longest job alone, polled every 1 s: {math.ceil(JOBS[-1])} requests")
