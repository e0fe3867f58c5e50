"""Who is still working after the client gave up? A 3-hop chain, three ways.

The client allows 800 ms. Order Service works 100 ms, then calls Inventory
Service (50 ms of work), which calls Warehouse Service, slow today: 3,000 ms.
"""
INF = float("inf")
HOPS = [("Order Service", 100), ("Inventory Service", 50), ("Warehouse Service", 3000)]
CLIENT_DEADLINE, HOP_TIMEOUT = 800, 1000


def run(mode):
    ends = {}

    def call(i, start, deadline):
        name, work = HOPS[i]
        local_end = start + work
        if local_end > deadline:                   # its context is cancelled mid-work
            ends[name] = deadline
            return deadline
        if i == len(HOPS) - 1:
            ends[name] = local_end
            return local_end
        if mode == "fixed 1 s timeouts":           # each hop has only its own timeout
            child_deadline, give_up = INF, local_end + HOP_TIMEOUT
        elif mode == "deadline dropped" and name == "Inventory Service":
            child_deadline, give_up = INF, INF     # new context: the deadline is lost here
        else:
            child_deadline, give_up = deadline, deadline
        reply = call(i + 1, local_end, child_deadline)
        ends[name] = min(reply, give_up)
        return ends[name]

    first_deadline = INF if mode == "fixed 1 s timeouts" else CLIENT_DEADLINE
    call(0, 0, first_deadline)
    return ends


for mode in ("fixed 1 s timeouts", "deadline propagated", "deadline dropped"):
    ends = run(mode)
    wasted = sum(max(0, end - CLIENT_DEADLINE) for end in ends.values())
    print(f"{mode}: client gives up at {CLIENT_DEADLINE} ms")
    for name, end in ends.items():
        print(f"  {name:<18} stops at {end:>5.0f} ms, {max(0, end - CLIENT_DEADLINE):>5.0f} ms after the client left")
    print(f"  work nobody will read: {wasted:.0f} ms\n")
