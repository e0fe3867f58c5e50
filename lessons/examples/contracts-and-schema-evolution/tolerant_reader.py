"""Three consumers of the same CloudEvents stream: strict, naive and tolerant."""


def event(eid, etype, schema_version, data):
    return {"specversion": "1.0", "id": eid, "source": "/orders", "type": etype,  # the four required attributes
            "subject": data.get("order_id"), "datacontenttype": "application/json",
            "dataschema": f"https://schemas.example.com/order-placed/{schema_version}", "data": data}


STREAM = [
    event("e-101", "com.example.order.placed", 1, {"order_id": "o-1", "total": "49.99"}),
    event("e-102", "com.example.order.placed", 1, {"order_id": "o-2", "total": "15.00", "channel": "app"}),
    event("e-103", "com.example.order.placed", 2, {"order_id": "o-3", "total_cents": 2500, "currency": "EUR"}),
    event("e-101", "com.example.order.placed", 1, {"order_id": "o-1", "total": "49.99"}),  # redelivered
    event("e-104", "com.example.order.gift-wrapped", 1, {"order_id": "o-3"}),
]


def strict(e):  # validates the whole v1 shape it was written against
    if set(e["data"]) != {"order_id", "total"}:
        raise ValueError(f"unexpected fields {sorted(set(e['data']) ^ {'order_id', 'total'})}")
    return round(float(e["data"]["total"]) * 100)


def naive(e):  # reads a field by name and trusts the type
    return round(float(e["data"]["total"]) * 100)


seen = set()


def tolerant(e):
    if e["type"] != "com.example.order.placed":
        return "skipped: not a type this consumer handles"
    if (e["source"], e["id"]) in seen:  # source + id identify one event
        return "skipped: duplicate"
    seen.add((e["source"], e["id"]))
    data = e["data"]  # read only the fields needed; ignore the rest
    if "total_cents" in data:
        return data["total_cents"]
    return round(float(data["total"]) * 100)  # v1 shape: decimal string in euros


for name, consumer in [("strict", strict), ("naive", naive), ("tolerant", tolerant)]:
    revenue, results = 0, []
    for e in STREAM:
        try:
            outcome = consumer(e)
        except (ValueError, KeyError) as err:
            outcome = f"CRASH {type(err).__name__}: {err}"
        if isinstance(outcome, int):
            revenue += outcome
            outcome = f"+{outcome} cents"
        results.append(f"  {e['id']} {e['type'].rsplit('.', 1)[-1]:<12} {outcome}")
    print(f"{name} consumer, revenue counted: {revenue} cents")
    print("\n".join(results))
