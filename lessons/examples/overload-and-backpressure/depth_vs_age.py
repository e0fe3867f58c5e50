"""Two backlog alarms on two queues: which one tells you something is wrong?

orders:  400 msg/s, pool sends 575 msg/s; a burst at 800 msg/s during minute 10.
refunds: 2 msg/min, one consumer that hangs on a bad message at minute 5.
"""
DEPTH_ALARM, AGE_ALARM_S = 5_000, 300


def simulate(arrivals, capacity, minutes):
    """Per-second FIFO; returns {minute: (depth, age of the oldest message in s)}."""
    queue, seen = [], {}
    for t in range(minutes * 60 + 1):
        if arrivals(t):
            queue.append([t, arrivals(t)])
        budget = capacity(t)
        while budget and queue:
            take = min(budget, queue[0][1])
            queue[0][1] -= take
            budget -= take
            if queue[0][1] == 0:
                queue.pop(0)
        if t % 60 == 0:
            seen[t // 60] = (sum(n for _, n in queue), t - queue[0][0] if queue else 0)
    return seen


orders = simulate(lambda t: 800 if 600 <= t < 660 else 400, lambda t: 575, 40)
refunds = simulate(lambda t: 1 if t % 30 == 0 else 0, lambda t: 5 if t < 300 else 0, 40)

print(f"{'minute':>6} |{'orders depth':>13}{'age (s)':>8} {'alarm':>5} |{'refunds depth':>13}{'age (s)':>8} {'alarm':>5}")
for minute in (5, 10, 11, 12, 15, 20, 40):
    cells = []
    for depth, age in (orders[minute], refunds[minute]):
        alarm = ("D" if depth > DEPTH_ALARM else "-") + ("A" if age > AGE_ALARM_S else "-")
        cells.append(f"{depth:>13,}{age:>8} {alarm:>5}")
    print(f"{minute:>6} |" + " |".join(cells))
print(f"\nD: depth over {DEPTH_ALARM:,}   A: oldest message older than {AGE_ALARM_S} s")
