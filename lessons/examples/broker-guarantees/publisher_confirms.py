"""RabbitMQ publisher confirms: what the publisher knows, with and without them.

Order Service publishes m1-m5 to a queue bound with routing key "order.placed".
m3 has a typo in its routing key. The connection drops after the broker has
stored m4 but before its confirm arrives; m5 was still in the client's buffer.
"""
BOUND = "order.placed"
messages = [("m1", BOUND), ("m2", BOUND), ("m3", "order.placd"), ("m4", BOUND), ("m5", BOUND)]


def publish_all(confirms):
    queue, returned, unconfirmed, log = [], [], {}, []
    for tag, (msg, key) in enumerate(messages, start=1):
        if msg == "m5":
            log.append("connection lost")                  # m5 never reached the broker
            unconfirmed[tag] = (msg, key)
            break
        if key == BOUND:
            queue.append(msg)                              # stored (on a quorum of replicas)
        elif confirms:
            returned.append(msg)                           # mandatory: basic.return first
            log.append(f"basic.return {msg} (NO_ROUTE)")
        if confirms and msg == "m4":
            unconfirmed[tag] = (msg, key)                  # stored, but the ack is lost
        elif confirms:
            log.append(f"basic.ack delivery-tag={tag}")
    if confirms:                                           # reconnect: resend what was never confirmed
        for tag, (msg, key) in sorted(unconfirmed.items()):
            queue.append(msg)
            log.append(f"republished {msg}, acked")
    return queue, returned, log


for confirms in (False, True):
    queue, returned, log = publish_all(confirms)
    missing = [m for m, key in messages if key == BOUND and m not in queue]
    silent = sorted(missing + ([] if confirms else ["m3"]))
    print(f"confirms {'on' if confirms else 'off'}:")
    for line in log:
        print(f"  {line}")
    print(f"  queue holds {queue}")
    print(f"  returned to the publisher: {returned or '-'}; lost without anyone knowing: {silent or '-'}\n")
print("With confirms nothing is lost silently, but m4 is in the queue twice: consumers deduplicate.")
