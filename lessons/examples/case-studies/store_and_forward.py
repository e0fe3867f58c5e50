# Store-and-forward messaging: the server keeps a message until the device acknowledges it.
RETENTION_H = 30 * 24  # undelivered messages are dropped after 30 days

# (hour, sender, recipient, message_id)
SENT = [(1, "ana", "bo", "m1"), (2, "ana", "bo", "m2"), (3, "ana", "cy", "m3"), (5, "bo", "ana", "m4")]
ONLINE_FROM = {"ana": 0, "bo": 26, "cy": 24 * 40}  # hour each device comes back online
LOST_ACKS = {"m2"}  # the device's first "delivered" ack for m2 never reaches the server

pending = {}  # message_id -> (hour stored, recipient): the server's durable queue
status = {}   # what the sender's phone shows
seen_on_device = {name: set() for name in ONLINE_FROM}

for hour in range(0, 24 * 41):
    for h, sender, to, mid in SENT:
        if h == hour:
            pending[mid] = (hour, to)
            status[mid] = "sent (server has it)"
    for mid, (stored, to) in list(pending.items()):
        if hour - stored > RETENTION_H:
            del pending[mid]
            status[mid] = f"expired after {RETENTION_H // 24} days undelivered"
        elif hour >= ONLINE_FROM[to]:
            fresh = mid not in seen_on_device[to]  # the device dedups by message ID
            seen_on_device[to].add(mid)
            if mid in LOST_ACKS:
                LOST_ACKS.discard(mid)  # server will redeliver next hour
                print(f"h{hour}: {mid} shown to {to}; ack lost, stays queued")
                continue
            del pending[mid]
            status[mid] = f"delivered at h{hour}" + ("" if fresh else " (redelivery ignored by device)")

for mid, text in status.items():
    print(f"{mid}: {text}")
