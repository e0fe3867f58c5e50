"""Redis Streams: a consumer crashes holding entries; another claims them with XAUTOCLAIM; a poison entry is parked.

Runs against a real Redis (REDIS_URL, default redis://127.0.0.1:6379/0) and deletes its streams at the end.
"""

import os
import uuid

import redis

CLAIM_AFTER_MS = 60_000  # an entry idle this long belongs to a consumer presumed dead
MAX_DELIVERIES = 3  # after this many tries an entry goes to the dead-letter stream

r = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True)
stream = f"example:{uuid.uuid4().hex}:orders"
dead = f"{stream}:dead"


def a_minute_passes(consumer, entry_ids):
    """Stand-in for waiting: XCLAIM ... IDLE sets the entries' idle time (JUSTID keeps their delivery count)."""
    r.xclaim(stream, "billing", consumer, 0, entry_ids, idle=CLAIM_AFTER_MS, justid=True)


try:
    ids = [r.xadd(stream, {"order": order}) for order in ["o-1", "o-2", "o-3", "o-bad"]]
    r.xgroup_create(stream, "billing", id="0")
    r.xreadgroup("billing", "worker-a", {stream: ">"}, count=4)
    r.xack(stream, "billing", ids[0])
    print("worker-a read 4 entries, acked o-1, then crashed")

    claimed = r.xautoclaim(stream, "billing", "worker-b", CLAIM_AFTER_MS, "0-0")[1]  # [1]: the claimed entries
    print(f"worker-b claims at once: {len(claimed)} entries (none idle for {CLAIM_AFTER_MS // 1000} s yet)")

    a_minute_passes("worker-a", ids[1:])
    claimed = r.xautoclaim(stream, "billing", "worker-b", CLAIM_AFTER_MS, "0-0")[1]
    print(f"a minute later worker-b claims {[fields['order'] for _, fields in claimed]}")
    for entry_id, fields in claimed:
        if fields["order"] != "o-bad":  # o-bad makes the handler throw, so worker-b never acks it
            r.xack(stream, "billing", entry_id)

    a_minute_passes("worker-b", ids[3:])
    r.xautoclaim(stream, "billing", "worker-c", CLAIM_AFTER_MS, "0-0")
    entry = r.xpending_range(stream, "billing", min="-", max="+", count=10)[0]
    print(f"worker-c claims o-bad: delivered {entry['times_delivered']} times")
    if entry["times_delivered"] >= MAX_DELIVERIES:  # check before processing, not after the next crash
        r.xadd(dead, {"order": "o-bad", "deliveries": entry["times_delivered"]})
        r.xack(stream, "billing", entry["message_id"])  # the group stops redelivering it
    print(f"pending now {r.xpending(stream, 'billing')['pending']}; dead-letter stream holds {r.xlen(dead)}")
finally:
    r.delete(stream, dead)
