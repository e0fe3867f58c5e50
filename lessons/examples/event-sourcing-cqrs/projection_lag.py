# CQRS: commands append to the event store; a projector updates a read model later.
# Simulated clock in milliseconds; the projector polls every 100 ms from its checkpoint.
event_store = []  # (append_time_ms, event)
read_model = {"orders": 0, "revenue": 0, "by_status": {}}
checkpoint = 0  # index of the next event the projector has not applied

COMMANDS = [  # (time_ms, order_id, new_status, amount)
    (10, "o-1", "placed", 30), (60, "o-2", "placed", 45),
    (130, "o-1", "paid", 0), (170, "o-3", "placed", 25), (240, "o-2", "cancelled", -45),
]
status_seen = {}  # the projector's private memory of each order's last status


def project(event):
    order, new, amount = event
    old = status_seen.get(order)
    if old:
        read_model["by_status"][old] -= 1
    else:
        read_model["orders"] += 1
    read_model["by_status"][new] = read_model["by_status"].get(new, 0) + 1
    read_model["revenue"] += amount
    status_seen[order] = new


queries = [50, 150, 250, 350]
for now in range(0, 401, 10):
    for t, order, new, amount in COMMANDS:
        if t == now:
            event_store.append((now, (order, new, amount)))
    if now % 100 == 0:
        while checkpoint < len(event_store):
            project(event_store[checkpoint][1])
            checkpoint += 1
    if now in queries:
        behind = len(event_store) - checkpoint
        print(f"t={now:3} ms  read model: {read_model['orders']} orders, revenue {read_model['revenue']:3}, "
              f"{read_model['by_status']}  ({behind} event(s) behind)")

rebuilt = {"orders": 0, "revenue": 0, "by_status": {}}
read_model, status_seen = rebuilt, {}
for _, event in event_store:  # a new or fixed projection: replay from position 0
    project(event)
print("rebuilt from scratch:", rebuilt)
