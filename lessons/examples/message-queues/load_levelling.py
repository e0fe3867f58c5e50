"""A queue absorbs a burst that the consumers cannot keep up with (one tick = 1 s; the burst is ticks 0-9)."""
from collections import deque

PER_CONSUMER = 100            # messages one consumer handles per second


def arrivals(t):
    return 600 if t < 10 else 100   # a 10-second burst, then normal traffic


def run(consumers):
    queue = deque()               # FIFO of [arrival second, how many messages]
    depth = peak = worst_wait = 0
    empty_at = None
    for t in range(60):
        queue.append([t, arrivals(t)])
        depth += arrivals(t)
        capacity = consumers * PER_CONSUMER
        while capacity and queue:            # consumers take from the head
            take = min(capacity, queue[0][1])
            worst_wait = max(worst_wait, t - queue[0][0])
            queue[0][1] -= take
            capacity -= take
            depth -= take
            if queue[0][1] == 0:
                queue.popleft()
        peak = max(peak, depth)
        if t >= 10 and depth == 0 and empty_at is None:
            empty_at = t
    print(f"{consumers} consumers: peak depth {peak:>4}, empty by the end of tick {empty_at}, "
          f"longest wait {worst_wait} s, messages refused 0")


print("without a queue, 3 servers at 300/s refuse 300/s x 10 s = 3000 requests")
run(3)
run(4)
