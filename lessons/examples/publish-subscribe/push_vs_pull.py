"""A 1-second burst of 300 events meets a subscriber that handles 50 per second.

One tick = 20 ms. The publisher emits 6 events per tick for 50 ticks; the
subscriber finishes 1 event per tick. Its in-memory buffer holds 100 events.
"""

BUFFER = 100


def run(mode, limit=None):
    broker = buffer = done = dropped = 0
    peak_broker = peak_buffer = 0
    tick = 0
    while done + dropped < 300:
        if tick < 50:
            broker += 6
        if mode == "push":  # broker sends as fast as it can, up to `limit` unacked
            room = broker if limit is None else max(0, limit - buffer)
            sent = min(broker, room)
        else:  # pull: the subscriber asks for a batch of `limit` when it runs dry
            sent = min(broker, limit) if buffer == 0 else 0
        broker -= sent
        accepted = min(sent, BUFFER - buffer)
        dropped += sent - accepted
        buffer += accepted
        peak_broker, peak_buffer = max(peak_broker, broker), max(peak_buffer, buffer)
        if buffer:
            buffer -= 1
            done += 1
        tick += 1
    return done, dropped, peak_buffer, peak_broker, tick * 20


print("mode                    handled dropped peak-buffer peak-broker  done-at")
for label, mode, limit in [("push, no flow control", "push", None),
                           ("push, prefetch 10", "push", 10),
                           ("pull, batches of 10", "pull", 10)]:
    done, dropped, buf, brk, ms = run(mode, limit)
    print(f"{label:<24}{done:>7}{dropped:>8}{buf:>12}{brk:>12}{ms:>7} ms")
