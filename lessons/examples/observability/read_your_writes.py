# How often does a user read their own write from a read model that lags behind?
import random

rng = random.Random(42)
N = 1000
# Time from "write committed" to "read model updated": usually fast, sometimes slow.
lags = sorted(rng.expovariate(1 / 120) for _ in range(N))  # mean 120 ms
print(f"projection lag: p50 {lags[N // 2]:.0f} ms, p99 {lags[int(N * 0.99)]:.0f} ms, max {lags[-1]:.0f} ms")

for read_after_ms in (50, 200, 500, 1000):
    stale = sum(lag > read_after_ms for lag in lags)
    print(f"user reads {read_after_ms:>4} ms after saving: {stale:>3} of {N} see the old value "
          f"({100 * stale / N:.1f}%)")


def read_with_token(written_version, read_model_version):
    """Read-your-writes: the write returned a version; never serve anything older."""
    if read_model_version >= written_version:
        return "read model"
    return "write side"  # or wait briefly and retry the read model


served = {"read model": 0, "write side": 0}
for lag in lags:
    written = 7  # the version the user's write created
    visible = written if lag <= 50 else written - 1  # what the read model holds at +50 ms
    served[read_with_token(written, visible)] += 1
print("with a version token at 50 ms:", served, "-> stale reads: 0")
