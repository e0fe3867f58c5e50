"""An AIMD concurrency limit finds a server's capacity, and finds it again when it changes.

Inventory Service answers in 50 ms while it has a free worker. Past its capacity,
requests queue inside it: throughput stays flat and latency grows (Little's law).
Order Service always has more work than it may send; the limit decides how much goes.
"""
BASE_S, SLOW = 0.050, 1.2                # a window counts as slow above 1.2 x 50 ms
CLIENT_TIMEOUT_S = 0.080                 # callers give up after 80 ms


def capacity(window):                    # a noisy neighbour halves it for 30 s
    return 20 if 30 <= window < 60 else 40


def serve(inflight, window):
    latency = BASE_S * max(1.0, inflight / capacity(window))
    return inflight / latency, latency   # (requests per second, seconds each)


def run(policy, show=False):
    limit, done, in_time, slow_windows, latencies = 20.0, 0.0, 0.0, 0, []
    for window in range(90):             # one-second windows
        inflight = limit if policy == "aimd" else policy
        rps, latency = serve(int(inflight), window)
        done += rps
        in_time += rps if latency <= CLIENT_TIMEOUT_S else 0
        latencies.append(latency)
        slow = latency > BASE_S * SLOW
        slow_windows += slow
        if policy == "aimd":
            limit = max(1.0, limit * 0.9) if slow else limit + 1   # AIMD
        if show and window % 6 == 5:
            print(f"  t={window + 1:>2}s capacity {capacity(window):>2}  limit {int(inflight):>2}"
                  f"  latency {latency * 1000:>3.0f} ms")
    return done, in_time, 1000 * sum(latencies) / len(latencies), slow_windows


print("AIMD: +1 per healthy second, x0.9 per slow second")
run("aimd", show=True)
print(f"\n{'policy':<10}{'served':>8}{'in time':>9}{'mean latency (ms)':>19}{'slow seconds':>14}")
for policy in (20, 40, 60, "aimd"):
    done, in_time, mean_ms, slow = run(policy)
    name = f"fixed {policy}" if policy != "aimd" else "AIMD"
    print(f"{name:<10}{done:>8,.0f}{in_time:>9,.0f}{mean_ms:>19.0f}{slow:>14}")
