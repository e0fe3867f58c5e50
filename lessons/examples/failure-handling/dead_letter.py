"""A poison message is moved aside after 3 receives instead of blocking the queue."""
from collections import deque

MAX_RECEIVES = 3  # SQS calls this maxReceiveCount in the redrive policy
queue = deque([{"id": "m1", "sku": "A1"}, {"id": "m2", "sku": None},  # m2 is malformed
               {"id": "m3", "sku": "B7"}, {"id": "m4", "sku": "C3"}])
receives, dlq, done = {}, [], []


def handle(msg):
    if msg["sku"] is None:
        raise ValueError("missing sku")  # retrying will never fix this
    done.append(msg["id"])


while queue:
    msg = queue.popleft()
    receives[msg["id"]] = receives.get(msg["id"], 0) + 1
    try:
        handle(msg)
    except ValueError as err:
        if receives[msg["id"]] >= MAX_RECEIVES:
            dlq.append((msg["id"], str(err), receives[msg["id"]]))
            print(f"{msg['id']}: receive {receives[msg['id']]} failed -> dead-letter queue")
        else:
            queue.append(msg)  # back of the queue, like an expired visibility timeout
            print(f"{msg['id']}: receive {receives[msg['id']]} failed -> redelivered later")

print("processed:", done)
print("dead-lettered (id, reason, receives):", dlq)
