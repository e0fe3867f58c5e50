"""Redis Streams: one stream, a consumer group that shares the work, and a second group that sees everything.

Runs against a real Redis (REDIS_URL, default redis://127.0.0.1:6379/0) and deletes its stream at the end.
"""

import os
import uuid

import redis

r = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), decode_responses=True)
stream = f"example:{uuid.uuid4().hex}:orders"  # a fresh key, so reruns never see old entries

try:
    for n in range(1, 7):
        r.xadd(stream, {"order": f"o-{n}", "total": str(10 * n)})  # Producer: append; Redis picks the entry ID
    r.xgroup_create(stream, "billing", id="0")  # "0": the group starts at the stream's first entry
    r.xgroup_create(stream, "analytics", id="0")

    # Two billing workers take turns asking for up to 2 new entries (">" = never delivered to this group).
    for worker in ["billing-1", "billing-2", "billing-1", "billing-2"]:
        reply = r.xreadgroup("billing", worker, {stream: ">"}, count=2)
        entries = reply[0][1] if reply else []
        orders = [fields["order"] for _, fields in entries]
        print(f"{worker} got {orders or 'nothing'}")
        if worker == "billing-1":  # billing-2 "forgets" to ack, to show the pending entries list
            r.xack(stream, "billing", *[entry_id for entry_id, _ in entries])

    for holder in r.xpending(stream, "billing")["consumers"]:
        print(f"pending in billing: {holder['pending']} entries delivered to {holder['name']} and not acked")

    reply = r.xreadgroup("analytics", "analytics-1", {stream: ">"}, count=100)
    print(f"analytics-1 got {[fields['order'] for _, fields in reply[0][1]]}")
    r.xack(stream, "analytics", *[entry_id for entry_id, _ in reply[0][1]])
    for group in sorted(r.xinfo_groups(stream), key=lambda g: g["name"]):
        print(f"group {group['name']}: consumers {group['consumers']}, pending {group['pending']}")
    print(f"stream length {r.xlen(stream)}: acking removes nothing; XTRIM or MAXLEN does")
finally:
    r.delete(stream)
