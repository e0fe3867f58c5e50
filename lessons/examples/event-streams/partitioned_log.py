"""A topic as three append-only partitions, read by two consumer groups."""
import zlib

PARTITIONS = 3
topic = [[] for _ in range(PARTITIONS)]  # topic[p][offset] = (key, value)


def produce(key, value):
    # A stable hash of the key picks the partition, so one order always lands
    # in the same partition and its events stay in order there.
    p = zlib.crc32(key.encode()) % PARTITIONS
    topic[p].append((key, value))
    return p, len(topic[p]) - 1


for key, value in [("order-17", "placed"), ("order-42", "placed"),
                   ("order-17", "paid"), ("order-99", "placed"),
                   ("order-42", "paid"), ("order-17", "shipped")]:
    p, offset = produce(key, value)
    print(f"{key} {value:<7} -> partition {p}, offset {offset}")


def assign(consumers):
    # Within one group, each partition belongs to exactly one consumer.
    return {c: [p for p in range(PARTITIONS) if p % len(consumers) == i]
            for i, c in enumerate(consumers)}


groups = {"email": ["email-1"], "analytics": ["an-1", "an-2", "an-3", "an-4"]}
committed = {}  # (group, partition) -> next offset to read
for group, consumers in groups.items():
    print(f"\ngroup {group!r}")
    for consumer, parts in assign(consumers).items():
        read = []
        for p in parts:
            start = committed.get((group, p), 0)
            read += [f"p{p}@{o}" for o in range(start, len(topic[p]))]
            committed[(group, p)] = len(topic[p])
        print(f"  {consumer}: partitions {parts} read {read or 'nothing (idle)'}")

# Reading deleted nothing: a new group starting at offset 0 sees the full history.
replayed = sum(len(part) for part in topic)
print(f"\nnew group 'audit' replays {replayed} events from offset 0")

# Lag = log end offset - committed offset, per partition.
produce("order-99", "paid")
lag = {p: len(topic[p]) - committed[("email", p)] for p in range(PARTITIONS)}
print(f"email lag after one more event: {lag}")
