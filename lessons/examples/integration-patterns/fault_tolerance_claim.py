"""'Fault tolerance: 60% sync, 95% async'? Compute it for concrete failures and watch the numbers move."""

WINDOW_MIN, RATE = 60, 100  # one hour of checkouts at 100 per minute
ORDERS = [m + i / RATE for m in range(WINDOW_MIN) for i in range(RATE)]  # arrival minute of each order


def run(down, broker_down=(0, 0), ttl_min=None, outbox=False):
    """down: {service: (from, to)} in minutes. Sync calls all five; hybrid calls payment, queues the other four."""
    def is_down(name, t):
        start, end = down.get(name, (0, 0))
        return start <= t < end

    sync_ok = sum(not any(is_down(s, t) for s in ("payment", "inventory", "email", "warehouse", "analytics"))
                  for t in ORDERS)
    hybrid_ok = emails = 0
    for t in ORDERS:
        if is_down("payment", t):
            continue  # payment is synchronous in both designs
        if broker_down[0] <= t < broker_down[1] and not outbox:
            continue  # nowhere to put the messages, so the order fails
        hybrid_ok += 1
        start, end = down.get("email", (0, 0))
        waits = end - t if start <= t < end else 0  # queued until email returns
        emails += ttl_min is None or waits <= ttl_min  # messages older than the TTL expire unread
    n = len(ORDERS)
    return f"{sync_ok / n:>9.1%}{hybrid_ok / n:>10.1%}{emails / n:>15.1%}"


print(f"{'scenario (one hour)':<44}{'sync ok':>9}{'hybrid ok':>10}{'emails sent':>15}")
for label, result in [
    ("email down 24 min", run({"email": (10, 34)})),
    ("email down 3 min", run({"email": (10, 13)})),
    ("email down 24 min, queue TTL 10 min", run({"email": (10, 34)}, ttl_min=10)),
    ("payment down 10 min", run({"payment": (20, 30)})),
    ("broker down 10 min, publish directly", run({}, broker_down=(20, 30))),
    ("broker down 10 min, outbox in order DB", run({}, broker_down=(20, 30), outbox=True)),
    ("nothing down", run({})),
]:
    print(f"{label:<44}{result}")
