"""Async request-reply: match out-of-order replies by correlation ID (simulated ms clock)."""
import heapq

TIMEOUT_MS = 300
REPLY_TO = "replies.order-svc-7"     # this instance's private reply queue

# (correlation id, sku to price, how long the pricing service takes, price it returns)
REQUESTS = [
    ("c-1", "KB-101", 240, 4999),
    ("c-2", "MS-220", 60, 1999),
    ("c-3", "CB-007", 420, 499),
    ("c-4", "HD-330", 90, 8999),
]

pending = {}    # correlation id -> what we asked; the only state linking reply to request
events = []     # (time, kind, correlation id, payload)

for i, (cid, sku, work_ms, price) in enumerate(REQUESTS):
    sent = i * 10
    pending[cid] = sku
    print(f"t={sent:>3} send    {cid} price {sku}  reply_to={REPLY_TO}")
    heapq.heappush(events, (sent + work_ms, "reply", cid, price))
    heapq.heappush(events, (sent + TIMEOUT_MS, "timeout", cid, None))

while events:
    t, kind, cid, price = heapq.heappop(events)
    if kind == "reply" and cid in pending:
        print(f"t={t:>3} reply   {cid} -> {pending.pop(cid)} costs {price} cents")
    elif kind == "reply":
        print(f"t={t:>3} reply   {cid} -> nobody waiting any more, discarded")
    elif cid in pending:   # a timeout only matters if the reply has not come
        print(f"t={t:>3} timeout {cid} -> gave up on {pending.pop(cid)}")

print("still pending:", pending or "none")
