"""Size a consumer pool with Little's law, then watch a backlog build and drain.

Email Service reads 400 messages/s; sending one email takes 120 ms. The email
provider is down for 6 minutes, then comes back.
"""
RATE, SERVICE_S, TARGET_UTIL = 400, 0.120, 0.7

busy = RATE * SERVICE_S                # Little's law: L = lambda x W
consumers = int(busy / TARGET_UTIL) + 1
capacity = round(consumers / SERVICE_S)  # messages/s the pool sends while the provider is up
print(f"busy consumers on average: {busy:.0f}; run {consumers} to stay near 70% busy")
print(f"pool capacity: {capacity:.0f} msg/s, spare: {capacity - RATE:.0f} msg/s\n")

OUTAGE_S = 360
queue = []                             # FIFO of [arrival second, messages left]
print(f"{'t (s)':>6}{'depth':>9}{'oldest age (s)':>16}{'wait for a new msg (s)':>24}")
t = 0
while True:
    queue.append([t, RATE])
    budget = 0 if t < OUTAGE_S else capacity
    while budget > 0 and queue:        # send from the head of the queue
        take = min(budget, queue[0][1])
        queue[0][1] -= take
        budget -= take
        if queue[0][1] == 0:
            queue.pop(0)
    depth = sum(n for _, n in queue)
    oldest = t - queue[0][0] if queue else 0
    if t % 180 == 0 or not queue:
        wait = depth / capacity        # Little's law again: W = L / throughput
        print(f"{t:>6}{depth:>9.0f}{oldest:>16}{wait:>24.1f}")
    if not queue:
        break
    t += 1
print(f"\nbacklog gone {t - OUTAGE_S} s after the provider came back")
