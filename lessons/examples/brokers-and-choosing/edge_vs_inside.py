# The checkout from the hook, all synchronous versus "sync at the edge, async inside".
STEPS_MS = {"payment": 400, "inventory": 200, "email": 800, "warehouse": 300, "analytics": 150}
PUBLISH_MS = 5          # write one event to the broker and get its acknowledgement
AVAILABILITY = 0.999    # each service is up 99.9% of the time
BROKER_AVAILABILITY = 0.9999  # a replicated broker cluster
CHECKOUTS_PER_DAY = 1_000_000

sync_latency = sum(STEPS_MS.values())
hybrid_latency = STEPS_MS["payment"] + PUBLISH_MS
sync_up = AVAILABILITY ** len(STEPS_MS)   # every service must answer
hybrid_up = AVAILABILITY * BROKER_AVAILABILITY  # only payment and the broker must answer

for name, latency, up in [("all sync", sync_latency, sync_up), ("hybrid", hybrid_latency, hybrid_up)]:
    failed = round(CHECKOUTS_PER_DAY * (1 - up))
    print(f"{name:<8}: customer waits {latency:>4} ms, checkout works {100 * up:.2f}% "
          f"of the time, ~{failed:,} failed checkouts/day")

# Email is down for 5 minutes at 20 checkouts/s. Sync: those checkouts fail.
# Hybrid: they succeed and the email queue absorbs the work.
rate, outage_s, email_capacity = 20, 300, 50   # per second; the email worker drains 50/s
backlog = rate * outage_s
drain_s = backlog / (email_capacity - rate)      # new orders keep arriving while it drains
print(f"email outage: sync fails {backlog:,} checkouts; hybrid queues {backlog:,} emails, "
      f"drained {drain_s:.0f} s after email returns")
