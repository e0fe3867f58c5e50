"""Email is down for two minutes: sync checkout vs queued email (one tick = 1 s)."""

ORDERS_PER_S = 2
EMAIL_CAPACITY_PER_S = 10      # emails the service can send per second when up
DOWN = range(180, 300)         # seconds 180..299: email unreachable

sync_failed = 0
queue = 0
peak, peak_at, drained_at = 0, 0, None

for t in range(600):
    email_up = t not in DOWN
    # Sync design: each checkout calls email inline, so a down email fails the checkout.
    if not email_up:
        sync_failed += ORDERS_PER_S
    # Hybrid design: checkout publishes to a queue; email drains it when it can.
    queue += ORDERS_PER_S
    if email_up:
        queue -= min(queue, EMAIL_CAPACITY_PER_S)
    if queue > peak:
        peak, peak_at = queue, t
    if t >= DOWN.stop and queue == 0 and drained_at is None:
        drained_at = t

total = 600 * ORDERS_PER_S
print(f"orders placed:            {total}")
print(f"sync checkouts failed:    {sync_failed} ({sync_failed / total:.0%})")
print("hybrid checkouts failed:  0")
print(f"hybrid queue peak:        {peak} emails at t={peak_at} s")
ticks = drained_at - DOWN.stop + 1  # email is back from tick 300, and tick 300 drains too
print(f"hybrid backlog cleared:   end of tick {drained_at} ({ticks} ticks of draining, {DOWN.stop}-{drained_at})")
