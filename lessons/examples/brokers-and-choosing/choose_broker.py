# The lesson's decision steps as code: each answer narrows the choice.
def choose(n):
    path = []
    if n.get("caller_needs_result_now") and n.get("work_ms", 0) < 500:
        return path + ["caller waits, work is short"], "sync call (REST/gRPC) with a timeout"
    if n.get("caller_needs_result_now"):
        path.append("caller needs a result, work is slow")
        return path, "202 Accepted + queue + poll/webhook (or async request-reply)"
    if n.get("loss_ok"):
        path.append("losing a message while a reader is offline is fine")
        return path, "Redis pub/sub or NATS Core (no storage, lowest latency)"
    if n.get("replay") or (n.get("independent_readers", 1) > 1 and n.get("msgs_per_s", 0) > 50_000):
        path.append("needs replay or many readers at high volume")
        key = " with the entity ID as key" if n.get("order_per_entity") else ""
        return path, f"log: Kafka (or Pulsar, Kinesis){key}"
    if n.get("independent_readers", 1) > 1:
        path.append(f"{n['independent_readers']} readers each need a copy")
        return path, "fan-out: SNS -> one SQS queue per reader, or a RabbitMQ fanout/topic exchange"
    if n.get("routing_rules") or n.get("priorities"):
        path.append("per-message routing or priorities")
        return path, "RabbitMQ (exchanges, bindings, priority queues)"
    path.append("one kind of worker drains the work")
    fifo = "SQS FIFO (message group = entity ID)" if n.get("order_per_entity") else "SQS standard"
    return path, f"work queue: {fifo}, or RabbitMQ if you run your own"


SCENARIOS = {
    "log in": {"caller_needs_result_now": True, "work_ms": 80},
    "generate a 2-minute report": {"caller_needs_result_now": True, "work_ms": 120_000},
    "cursor positions in a shared doc": {"loss_ok": True},
    "clickstream, 200k events/s, 3 teams": {"independent_readers": 3, "msgs_per_s": 200_000},
    "order history rebuilt on demand": {"replay": True, "order_per_entity": True},
    "order.placed -> email, analytics, warehouse": {"independent_readers": 3, "msgs_per_s": 40},
    "resize uploaded images": {"msgs_per_s": 30},
    "bank transfers per account": {"order_per_entity": True, "msgs_per_s": 100},
}
for name, needs in SCENARIOS.items():
    path, answer = choose(needs)
    print(f"{name}\n    because {'; '.join(path)}\n    -> {answer}")
