"""A lost ack makes the producer resend a batch. Does the partition get it twice?

The broker remembers, per producer ID, the last sequence number it appended to
the partition, and answers a resend of an old sequence without appending it.
"""


class Partition:
    def __init__(self, idempotent):
        self.log, self.last_seq, self.idempotent = [], {}, idempotent

    def append(self, pid, seq, batch):
        if self.idempotent and seq <= self.last_seq.get(pid, -1):
            return "duplicate, acked without appending"
        self.log.append(batch)
        self.last_seq[pid] = seq
        return "appended"


def run(idempotent):
    p = Partition(idempotent)
    events = []
    for seq, batch in enumerate(["order-1", "order-2", "order-3"]):
        events.append(f"{batch}: {p.append(pid=7, seq=seq, batch=batch)}")
        if batch == "order-2":                   # the ack is lost; the client retries
            events.append(f"{batch} retry: {p.append(pid=7, seq=seq, batch=batch)}")
    # The producer process restarts and resends order-3: a new session, a new producer ID.
    events.append(f"order-3 after restart: {p.append(pid=8, seq=0, batch='order-3')}")
    return events, p.log


for idempotent in (False, True):
    events, log = run(idempotent)
    print(f"enable.idempotence={str(idempotent).lower()}")
    for line in events:
        print(f"  {line}")
    print(f"  partition: {log}\n")
print("Sequence numbers live in one producer session, so the resend after the restart")
print("is a duplicate either way: consumers still deduplicate by order ID.")
