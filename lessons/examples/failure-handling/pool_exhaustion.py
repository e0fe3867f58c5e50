"""Little's law on a shared thread pool: busy threads = arrival rate x time held.

Order Service has 200 threads. Checkout (100 req/s) calls Inventory Service;
browsing (400 req/s, 20 ms) never touches inventory but shares the same pool.
"""
POOL, CHECKOUT_RPS, BROWSE_RPS, BROWSE_S = 200, 100, 400, 0.020
BULKHEAD = 40  # threads checkout may hold when it gets its own compartment

scenarios = [  # (name, seconds one checkout holds a thread, inventory calls per checkout)
    ("inventory healthy (50 ms)", 0.050, 1),
    ("inventory slow (3 s), no timeout", 3.000, 1),
    ("timeout 500 ms", 0.500, 1),
    ("timeout 500 ms + 2 retries", 3 * 0.500 + 0.050 + 0.100, 3),  # mean jittered waits
    ("breaker open, fail fast (1 ms)", 0.001, 0),
]

browse_need = BROWSE_RPS * BROWSE_S
print(f"browsing needs {browse_need:.0f} threads in every scenario\n")
print(f"{'scenario':<34}{'threads':>8}{'shared pool':>13}{'with bulkhead':>15}{'inventory rps':>15}")
for name, hold, calls in scenarios:
    need = CHECKOUT_RPS * hold
    shared_free = POOL - min(need, POOL)  # checkout grabs threads first, browsing gets the rest
    shared = "browse OK" if shared_free >= browse_need else "ALL STALL"
    bulk_free = POOL - min(need, BULKHEAD)
    bulk = "browse OK" if bulk_free >= browse_need else "ALL STALL"
    print(f"{name:<34}{need:>8.1f}{shared:>13}{bulk:>15}{CHECKOUT_RPS * calls:>15}")

served = BULKHEAD / 3.0  # checkouts per second the bulkhead can finish at 3 s each
print(f"\nslow inventory behind a {BULKHEAD}-thread bulkhead: {served:.1f} checkouts/s served,"
      f" {CHECKOUT_RPS - served:.1f}/s rejected at once")
