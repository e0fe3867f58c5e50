"""The same order saga as choreography: no coordinator, only events and reactions."""
from collections import deque

bus = deque()
handlers = {}  # event type -> list of (service, reaction)
stock, card_limit = {"A1": 5}, 3000  # this customer's card will be declined


def on(event_type, service):
    def register(fn):
        handlers.setdefault(event_type, []).append((service, fn))
        return fn
    return register


@on("OrderCreated", "Inventory Service")
def reserve(e):
    stock["A1"] -= e["qty"]
    return {**e, "type": "StockReserved"}


@on("StockReserved", "Payment Service")
def charge(e):
    ok = e["cents"] <= card_limit
    return {**e, "type": "PaymentCompleted" if ok else "PaymentFailed"}


@on("PaymentFailed", "Inventory Service")  # compensation lives in each service
def release(e):
    stock["A1"] += e["qty"]
    return {**e, "type": "StockReleased"}


@on("PaymentFailed", "Order Service")
def cancel(e):
    return {**e, "type": "OrderCancelled"}


bus.append({"type": "OrderCreated", "order": "o-17", "qty": 2, "cents": 4999})
while bus:
    event = bus.popleft()
    reactions = handlers.get(event["type"], [])
    print(f"{event['type']:<17} -> {', '.join(s for s, _ in reactions) or '(nobody listens)'}")
    for _, react in reactions:
        bus.append(react(event))

print("stock after saga:", stock)
print("the whole flow is written down nowhere but in these subscriptions:")
for event_type, subscribed in handlers.items():
    print(f"  {event_type:<14} handled by {', '.join(s for s, _ in subscribed)}")
