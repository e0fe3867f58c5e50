# Propagate a W3C traceparent through an HTTP hop and a broker hop, then draw the trace.
import random

rng = random.Random(42)
spans = []  # (span_id, parent_id, service, operation, start_ms, end_ms)


def parse(header):
    version, trace_id, parent_id, flags = header.split("-")
    assert version == "00" and len(trace_id) == 32 and len(parent_id) == 16 and len(flags) == 2
    return trace_id, parent_id, flags


def start_span(incoming, service, operation, start, end):
    """Record a span whose parent is the caller's span; return the header to pass on."""
    if incoming is None:  # no context arrived: this span starts a new trace
        trace_id, parent_id, flags = f"{rng.getrandbits(128):032x}", None, "01"
    else:
        trace_id, parent_id, flags = parse(incoming)
    span_id = f"{rng.getrandbits(64):016x}"
    spans.append((span_id, parent_id, service, operation, start, end))
    return f"00-{trace_id}-{span_id}-{flags}"


edge = start_span(None, "API Gateway", "POST /checkout", 0, 430)
print("HTTP header   traceparent:", edge)
order = start_span(edge, "Order Service", "place order", 5, 425)
start_span(order, "Payment Service", "charge card", 20, 420)
publish = start_span(order, "Order Service", "publish order.placed", 421, 424)
message_headers = {"traceparent": publish, "correlation_id": "order-1042"}
print("message header traceparent:", message_headers["traceparent"])
# Consumers read the context from the message, not from a thread or a call stack.
start_span(message_headers["traceparent"], "Analytics Service", "consume order.placed", 450, 600)
start_span(message_headers["traceparent"], "Email Service", "consume order.placed", 1300, 2100)

children = {}
for s in spans:
    children.setdefault(s[1], []).append(s)


def draw(parent_id, depth):
    for span_id, _, service, op, start, end in children.get(parent_id, []):
        label = f"{'  ' * depth}{service}: {op}"
        print(f"{label:<46} {start:>4}-{end:<4} {end - start:>3} ms  span {span_id}")
        draw(span_id, depth + 1)


print(f"trace {parse(edge)[0]}: {len(spans)} spans")
draw(None, 0)
print("customer waited", 430, "ms; email went out", 2100, "ms after the click;",
      "message sat in the queue", 1300 - 424, "ms")
