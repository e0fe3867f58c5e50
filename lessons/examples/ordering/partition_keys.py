# Same events, two ways of choosing a partition: by order ID, or round-robin.
import zlib

PARTITIONS = 3
COST_MS = [10, 25, 40]  # each partition's consumer works at its own speed
STEPS = ["Created", "Paid", "Shipped"]
ORDERS = ["o-1", "o-2", "o-3", "o-4"]
# The producer emits every order's step 1, then every step 2, then every step 3.
sent = [(order, n, step) for n, step in enumerate(STEPS, 1) for order in ORDERS]


def run(choose_partition):
    logs = [[] for _ in range(PARTITIONS)]
    for i, msg in enumerate(sent):
        logs[choose_partition(i, msg[0])].append(msg)
    processed = []  # (finish_ms, partition, msg): one consumer per partition, in log order
    for p, log in enumerate(logs):
        clock = 0
        for msg in log:
            clock += COST_MS[p]
            processed.append((clock, p, msg))
    processed.sort()
    last_seen, broken = {}, set()
    for _, _, (order, n, _) in processed:
        if n < last_seen.get(order, 0):
            broken.add(order)  # an older step finished after a newer one
        last_seen[order] = max(n, last_seen.get(order, 0))
    return logs, processed, sorted(broken)


def by_key(_, order):  # Kafka hashes keys with murmur2; any stable hash shows the idea
    return zlib.crc32(order.encode()) % PARTITIONS


def round_robin(i, _):
    return i % PARTITIONS


for name, chooser in [("keyed by order ID", by_key), ("round-robin", round_robin)]:
    logs, processed, broken = run(chooser)
    print(f"--- {name}: messages per partition {[len(log) for log in logs]}")
    for order in ORDERS:
        seen = [f"{step}@{t}ms(p{p})" for t, p, (o, _, step) in processed if o == order]
        print(f"  {order}: {' -> '.join(seen)}")
    print(f"  orders processed out of order: {broken or 'none'}")
