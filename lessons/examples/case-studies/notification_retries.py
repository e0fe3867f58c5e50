"""Why 70% of SMS calls time out, and the retry plan that replaces the loop that caused it."""
import random

NOTIFICATIONS_PER_S = 70
PROVIDER_LIMIT_PER_S = 100   # the SMS provider's rate limit for this account


def attempts_per_notification(failure_rate, retries):
    # attempt k+1 happens only when the first k all failed
    return sum(failure_rate**k for k in range(retries + 1))


print("before: 2 s client timeout, up to 3 immediate retries")
for rate in (0.03, 0.7):
    calls = attempts_per_notification(rate, retries=3)
    print(f"  {rate:.0%} time out: {calls:.2f} calls per notification, {calls * NOTIFICATIONS_PER_S:.0f} calls/s"
          f" (limit {PROVIDER_LIMIT_PER_S}), 1 in {round(1 / rate**4):,} still failing after 4 tries")
print(f"  if the provider finishes the calls we gave up on, that is {calls:.2f} texts per notification on average")
print()

print("after: from a queue, 10 s timeout, full-jitter backoff (base 5 s, factor 2, cap 600 s), 8 attempts")
rng = random.Random(42)
waited = 0.0
for attempt in range(1, 8):
    ceiling = min(600.0, 5.0 * 2 ** (attempt - 1))
    wait = rng.uniform(0, ceiling)  # full jitter: anywhere from zero to the ceiling
    waited += wait
    print(f"  attempt {attempt} fails, wait {wait:5.1f} s of at most {ceiling:3.0f} s; {waited:5.1f} s waited in all")
worst = sum(min(600.0, 5.0 * 2**k) for k in range(7))
print(f"  at most {worst:.0f} s of waiting before attempt 8; if that fails too, the dead-letter queue")
