"""What a connection pool saves, and how many connections a load needs (times in ms)."""

RTT = 2          # one network round trip between the two services
SERVER = 5       # time the callee spends on the request
HANDSHAKE = RTT + RTT   # TCP (1 round trip) + TLS 1.3 (1 round trip)
CALLS = 1_000

fresh = CALLS * (HANDSHAKE + RTT + SERVER)      # new connection per call
pooled = HANDSHAKE + CALLS * (RTT + SERVER)     # one connection, reused
print(f"{CALLS} calls, new connection each: {fresh:>6} ms")
print(f"{CALLS} calls, pooled connection:   {pooled:>6} ms")

# Little's law: connections busy = request rate x time each call holds one.
RATE = 400       # calls per second
POOL = 50
for label, call_ms in (("healthy callee", RTT + SERVER), ("callee slows to 500 ms", RTT + 500)):
    needed = RATE * call_ms / 1000
    served = min(RATE, POOL / (call_ms / 1000))   # calls per second the pool can carry
    print(f"{label:<24} needs {needed:6.1f} connections of {POOL}; "
          f"carries {served:5.1f}/s, {RATE - served:5.1f}/s wait for a free one")
