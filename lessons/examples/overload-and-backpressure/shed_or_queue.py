"""Overload: queue everything, or refuse early? Count the answers that arrive in time.

Payment Service completes 100 requests/s. For 60 s, clients send 150/s and give
up after 1 s, so an answer later than that is wasted work.
"""
CAPACITY, OFFERED, SECONDS, CLIENT_TIMEOUT_S = 100, 150, 60, 1.0
COST = 1 / CAPACITY                     # seconds of server time per request
arrivals = [i / OFFERED for i in range(OFFERED * SECONDS)]


def run(policy):
    free_at, useful, wasted, refused, waits = 0.0, 0, 0, 0, []
    for at in arrivals:
        wait = max(0.0, free_at - at)   # time this request would sit in the queue
        if policy == "admission control" and wait > 0.5 * CLIENT_TIMEOUT_S:
            refused += 1                # a fast 503 the client can act on
            continue
        if policy == "drop expired" and wait + COST > CLIENT_TIMEOUT_S:
            refused += 1                # dequeued, found too old, skipped unprocessed
            continue
        free_at = at + wait + COST
        if wait + COST <= CLIENT_TIMEOUT_S:
            useful += 1
            waits.append(wait)
        else:
            wasted += 1
    waits.sort()
    p50 = waits[len(waits) // 2] * 1000 if waits else 0
    return useful, wasted, refused, p50, free_at


print(f"{'policy':<19}{'in time':>8}{'wasted':>8}{'refused':>9}{'p50 wait (ms)':>15}{'busy until (s)':>16}")
for policy in ("unbounded FIFO", "admission control", "drop expired"):
    useful, wasted, refused, p50, busy = run(policy)
    print(f"{policy:<19}{useful:>8}{wasted:>8}{refused:>9}{p50:>15.0f}{busy:>16.1f}")
print(f"\noffered {len(arrivals)} requests; at most {CAPACITY * SECONDS} can be served in {SECONDS} s")
