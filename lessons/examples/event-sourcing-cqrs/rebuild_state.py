# Event sourcing: the events are the record; current state is a fold over them.
PRICES = {"A1": 15, "B7": 40, "C3": 8}

STREAM = [  # stream "order-1042" in the event store, oldest first
    {"seq": 1, "type": "OrderPlaced", "lines": {"A1": 2, "B7": 1}},
    {"seq": 2, "type": "ItemAdded", "sku": "C3", "qty": 3},
    {"seq": 3, "type": "ItemRemoved", "sku": "B7"},
    {"seq": 4, "type": "PaymentCaptured", "amount": 54},
    {"seq": 5, "type": "OrderShipped", "carrier": "DHL"},
]

EMPTY = {"version": 0, "status": "new", "lines": {}, "paid": 0}


def apply(state, e):
    s = {**state, "lines": dict(state["lines"]), "version": e["seq"]}
    if e["type"] == "OrderPlaced":
        s["lines"], s["status"] = dict(e["lines"]), "placed"
    elif e["type"] == "ItemAdded":
        s["lines"][e["sku"]] = s["lines"].get(e["sku"], 0) + e["qty"]
    elif e["type"] == "ItemRemoved":
        del s["lines"][e["sku"]]
    elif e["type"] == "PaymentCaptured":
        s["paid"], s["status"] = s["paid"] + e["amount"], "paid"
    elif e["type"] == "OrderShipped":
        s["status"] = "shipped"
    return s


def replay(events, start=EMPTY):
    state, applied = start, 0
    for e in events:
        if e["seq"] > start["version"]:  # skip what the snapshot already holds
            state, applied = apply(state, e), applied + 1
    return state, applied


def total(state):
    return sum(PRICES[sku] * qty for sku, qty in state["lines"].items())


for upto in range(1, len(STREAM) + 1):
    s, _ = replay(STREAM[:upto])
    print(f"after seq {upto}: {s['status']:<8} lines={s['lines']} total={total(s)} paid={s['paid']}")

past, _ = replay([e for e in STREAM if e["seq"] <= 2])  # temporal query: "what did it look like at v2?"
print("as of v2 the customer owed", total(past))

snapshot, _ = replay(STREAM[:4])  # saved after seq 4
current, n_full = replay(STREAM)
from_snap, n_snap = replay(STREAM, start=snapshot)
print(f"full replay applied {n_full} events, snapshot replay applied {n_snap}")
print("same state:", current == from_snap)
