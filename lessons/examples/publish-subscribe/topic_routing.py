"""Topic wildcards (RabbitMQ style) plus a content filter, in one small router."""


def matches(pattern, key):
    return match(pattern.split("."), key.split("."))


def match(p, k):
    # '*' matches exactly one dot-separated word, '#' matches zero or more words.
    if not p:
        return not k
    if p[0] == "#":
        return any(match(p[1:], k[i:]) for i in range(len(k) + 1))
    return bool(k) and p[0] in ("*", k[0]) and match(p[1:], k[1:])


subscriptions = [  # (subscriber, binding pattern, filter on the message body)
    ("Email Service", "order.*.created", None),
    ("Analytics Service", "#", None),
    ("Fraud Service", "order.#", lambda m: m["total"] > 1000),
    ("Warehouse Service", "order.eu.*", None),
]

events = [
    ("order.eu.created", {"id": 1, "total": 80}),
    ("order.us.created", {"id": 2, "total": 2400}),
    ("order.eu.cancelled", {"id": 3, "total": 1500}),
    ("payment.card.failed", {"id": 4, "total": 60}),
]

for key, body in events:
    got = [name for name, pattern, keep in subscriptions
           if matches(pattern, key) and (keep is None or keep(body))]
    print(f"{key:<20} total={body['total']:<5} -> {', '.join(got)}")

# The publisher sent 4 messages; the broker delivered one copy per match.
copies = sum(1 for k, b in events for _, p, f in subscriptions
             if matches(p, k) and (f is None or f(b)))
print(f"published 4, delivered {copies}")
