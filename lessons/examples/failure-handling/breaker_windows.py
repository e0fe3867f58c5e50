"""Three rules for opening a breaker, run on the same three call histories: when does each one open?"""
from collections import deque


def consecutive(calls, n=5):
    run = 0
    for t, ok in calls:
        run = 0 if ok else run + 1
        if run >= n:  # n failures in a row, whatever happened before
            return t
    return None


def count_window(calls, size=100, minimum=100, threshold=0.5):
    window = deque(maxlen=size)  # the last `size` calls, however long ago they were made
    for t, ok in calls:
        window.append(ok)
        if len(window) >= minimum and window.count(False) / len(window) >= threshold:
            return t
    return None


def time_window(calls, seconds=10, minimum=20, threshold=0.5):
    window = deque()  # every call of the last `seconds`, however many or few that is
    for t, ok in calls:
        window.append((t, ok))
        while window[0][0] <= t - seconds:
            window.popleft()
        failed = sum(1 for _, good in window if not good)
        if len(window) >= minimum and failed / len(window) >= threshold:
            return t
    return None


def history(rate_per_s, duration_s, fails):
    """One call every 1/rate seconds; fails(i, t) says whether call i at time t fails."""
    return [(i / rate_per_s, not fails(i, i / rate_per_s)) for i in range(int(rate_per_s * duration_s))]


scenarios = {  # label: (calls, when the trouble starts)
    "blip: 6 failures in a row, 100 calls/s": (history(100, 30, lambda i, t: 500 <= i < 506), 5),
    "one of two replicas dead, 100 calls/s": (history(100, 30, lambda i, t: t >= 5 and i % 2 == 0), 5),
    "total outage, 1 call every 3 s": (history(1 / 3, 1800, lambda i, t: t >= 900), 900),
}
rules = {"5 in a row": consecutive, "last 100 calls": count_window, "last 10 s, min 20": time_window}

print("Seconds from the start of the trouble until the breaker opens:")
print(f"{'':<40}" + "".join(f"{name:>19}" for name in rules))
for label, (calls, start) in scenarios.items():
    cells = [rule(calls) for rule in rules.values()]
    print(f"{label:<40}" + "".join(f"{'never' if t is None else f'{t - start:.2f}':>19}" for t in cells))
