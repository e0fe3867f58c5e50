"""Per-request retries vs a retry budget, through a blip and an outage.

Order Service sends 1,000 requests/s to Inventory Service for 60 s. Seconds
0-20: 5% of calls fail at random. Seconds 20-40: every call fails. Then healthy.
"""
import random

rng = random.Random(11)
RATE, MAX_ATTEMPTS, BUDGET_RATIO = 1000, 4, 0.1


def fails(second):
    if second < 20:
        return rng.random() < 0.05
    return second < 40


def run(budgeted):
    tokens, calls, ok = 10.0, [0, 0, 0], [0, 0, 0]   # per phase: 0-20, 20-40, 40-60
    for second in range(60):
        phase = second // 20
        for _ in range(RATE):
            tokens = min(10.0, tokens + BUDGET_RATIO)  # each request earns 0.1 retry
            for attempt in range(1, MAX_ATTEMPTS + 1):
                calls[phase] += 1
                if not fails(second):
                    ok[phase] += 1
                    break
                if attempt == MAX_ATTEMPTS or (budgeted and tokens < 1):
                    break
                if budgeted:
                    tokens -= 1                        # a retry spends one token
    return [c / 20 for c in calls], [o / (20 * RATE) for o in ok]


print(f"{'policy':<26}{'calls/s: blip':>14}{'outage':>8}{'after':>7}{'success: blip':>15}{'outage':>8}")
for name, budgeted in (("up to 3 retries each", False), ("retry budget of 10%", True)):
    calls, ok = run(budgeted)
    print(f"{name:<26}{calls[0]:>14,.0f}{calls[1]:>8,.0f}{calls[2]:>7,.0f}{ok[0]:>15.2%}{ok[1]:>8.0%}")
