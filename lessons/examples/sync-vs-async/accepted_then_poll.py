"""Request-async-response: 202 Accepted, then polling or a webhook (simulated clock, ms)."""
import math

JOB_MS = 7_300            # how long the report takes to build
GATEWAY_TIMEOUT_MS = 5_000


def sync_call():
    # The client holds the connection for the whole job.
    if JOB_MS > GATEWAY_TIMEOUT_MS:
        return f"sync: 504 Gateway Timeout at {GATEWAY_TIMEOUT_MS} ms (the job keeps running anyway)"
    return f"sync: 200 OK at {JOB_MS} ms"


def poll(interval_ms):
    # POST returns 202 + Location: /jobs/81 at once; GET /jobs/81 every interval.
    polls = math.ceil(JOB_MS / interval_ms)
    seen_at = polls * interval_ms
    return polls, seen_at, seen_at - JOB_MS


print(sync_call())
print()
print("interval   GETs   result seen   staleness")
for interval in (500, 2_000, 5_000):
    polls, seen_at, late = poll(interval)
    print(f"{interval:>6} ms  {polls:>4}  {seen_at:>8} ms  {late:>7} ms")
print(f"webhook        1  {JOB_MS:>8} ms  {0:>7} ms  (server POSTs to the callback URL)")
