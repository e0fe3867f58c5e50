"""A retry loop with exponential backoff and full jitter, on a simulated clock."""
import random
from collections import Counter

rng = random.Random(42)
BASE, FACTOR, CAP, MAX_ATTEMPTS = 100, 2, 2000, 5  # ms, ms, ms, calls in total
RETRYABLE = {429, 502, 503, 504, "timeout"}
TIMEOUT = 300  # ms: a timed-out attempt costs the whole timeout
ATTEMPT_MS = {503: 20, "timeout": TIMEOUT, 200: 40, 400: 15}  # how long each kind of answer takes


def ceiling(retry):  # retry 1 is the second attempt
    return min(CAP, BASE * FACTOR ** (retry - 1))


def full_jitter(retry):
    return rng.uniform(0, ceiling(retry))


def call_with_retries(responses, delay):
    clock = 0.0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        status = responses[attempt - 1]
        start, clock = clock, clock + ATTEMPT_MS[status]  # the attempt itself takes time
        print(f"  t={start:6.0f} ms  attempt {attempt} -> {status} at t={clock:.0f} ms")
        if status == 200 or status not in RETRYABLE:
            return status  # success, or an error a retry cannot fix (400, 404...)
        if attempt < MAX_ATTEMPTS:
            clock += delay(attempt)  # then wait before the next attempt
    return "gave up"


print("backoff ceilings (ms):", [ceiling(r) for r in range(1, 7)])
print("flaky dependency, full jitter:")
call_with_retries([503, "timeout", 503, 200], full_jitter)
print("bad request, no retry:")
call_with_retries([400], full_jitter)

# 1,000 clients all fail at t=0 and each retries 4 times.
# Count how many retries land in the busiest 10 ms window.
for name, delay in [("no jitter", ceiling), ("full jitter", full_jitter)]:
    windows = Counter()
    for _ in range(1000):
        t = 0.0
        for retry in range(1, 5):
            t += delay(retry)
            windows[int(t // 10)] += 1
    print(f"{name:<12} busiest 10 ms window: {max(windows.values())} retries")
