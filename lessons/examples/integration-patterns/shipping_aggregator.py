"""An aggregator: ship an order only when both PaymentCompleted and StockReserved have arrived for it."""

NEEDED = {"PaymentCompleted", "StockReserved"}
TIMEOUT_S = 30

EVENTS = [  # (second, type, order id); arrival order, as the broker delivers it
    (0.0, "PaymentCompleted", "o-1"), (0.4, "StockReserved", "o-1"),
    (1.0, "StockReserved", "o-2"), (2.5, "PaymentCompleted", "o-2"),  # the other way round
    (3.0, "PaymentCompleted", "o-3"), (3.2, "PaymentCompleted", "o-3"),  # redelivered
    (4.0, "PaymentCompleted", "o-4"),  # its stock event is late
    (6.0, "StockReserved", "o-5"), (7.0, "PaymentFailed", "o-5"),
    (9.0, "StockReserved", "o-3"),
    (40.0, "StockReserved", "o-4"),  # arrives after o-4 timed out
]

open_orders = {}  # order id -> {"since": first arrival, "seen": set of event types}; durable in production
closed = {}  # order id -> how it ended, kept so late events are recognised


def close(now, order, status, action):
    closed[order] = status
    del open_orders[order]
    print(f"{now:5.1f}s  {order}: {status}, {action}")


def expire(now):
    for order, state in list(open_orders.items()):
        if now - state["since"] >= TIMEOUT_S:
            close(state["since"] + TIMEOUT_S, order, f"TIMED OUT with only {sorted(state['seen'])}", "alert, refund")


for now, kind, order in EVENTS:
    expire(now)  # in production a scheduler fires these; here each arrival moves the clock
    if order in closed:
        print(f"{now:5.1f}s  {order}: late {kind} for a closed order ({closed[order].split(' with')[0]}), compensate")
        continue
    state = open_orders.setdefault(order, {"since": now, "seen": set()})
    if kind in state["seen"]:
        print(f"{now:5.1f}s  {order}: duplicate {kind} ignored")
        continue
    state["seen"].add(kind)
    if kind == "PaymentFailed":
        close(now, order, "payment failed", "release stock, do not ship")
    elif NEEDED <= state["seen"]:
        close(now, order, f"complete after {now - state['since']:.1f}s", "book courier")
expire(float("inf"))
print("still waiting:", sorted(open_orders) or "none", "| closed:", len(closed))
