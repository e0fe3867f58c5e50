"""Score two checkout designs on latency, failure impact and threads held."""

# (dependency, milliseconds, availability) for one checkout
PAYMENT = ("payment", 400, 0.999)
INVENTORY = ("inventory", 200, 0.999)
EMAIL = ("email", 800, 0.999)
WAREHOUSE = ("warehouse", 300, 0.999)
ANALYTICS = ("analytics", 150, 0.999)
BROKER = ("broker publish", 5, 0.9999)

RATE = 100   # checkouts per second
POOL = 200   # request threads in the order service


def score(name, waited_on):
    """Only the dependencies the caller waits on count against the user."""
    latency_ms = sum(ms for _, ms, _ in waited_on)
    ok = 1.0
    for _, _, availability in waited_on:
        ok *= availability
    # Little's law: requests in flight = arrival rate x time each one takes
    busy = RATE * latency_ms / 1000
    flag = "  <- pool exhausted" if busy > POOL else ""
    print(f"{name:<7} {latency_ms:>6} ms  ok {ok:.2%}  "
          f"failed per 10k {(1 - ok) * 10_000:5.1f}  threads {busy:7.1f}/{POOL}{flag}")


score("sync", [PAYMENT, INVENTORY, EMAIL, WAREHOUSE, ANALYTICS])
score("hybrid", [PAYMENT, BROKER])

print("\nemail slows from 800 ms to 10 s:")
SLOW_EMAIL = ("email", 10_000, 0.999)
score("sync", [PAYMENT, INVENTORY, SLOW_EMAIL, WAREHOUSE, ANALYTICS])
score("hybrid", [PAYMENT, BROKER])   # email reads its queue later; nobody waits
