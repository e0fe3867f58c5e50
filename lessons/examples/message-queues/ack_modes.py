"""Competing consumers share one queue; when you ack decides what a crash costs."""
from collections import deque


def run(mode):
    queue = deque(f"m{i}" for i in range(1, 7))
    consumers = deque(["A", "B", "C"])      # the broker hands messages out in turn
    emails_sent = []
    print(f"{mode}:")
    while queue:
        consumer, msg = consumers[0], queue.popleft()
        consumers.rotate(-1)
        crashes = (consumer, msg) == ("B", "m5")
        if mode == "ack before work":
            # The broker deletes the message now; a crash below loses it for good.
            if crashes:
                print(f"  {consumer} acks {msg}, crashes before sending: {msg} is lost")
                consumers.remove(consumer)
                continue
            emails_sent.append(msg)
        else:
            emails_sent.append(msg)         # the side effect happens first...
            if crashes:                     # ...and the ack never leaves
                print(f"  {consumer} sends {msg}, crashes before acking; "
                      f"{msg} becomes visible again after the 30 s visibility timeout")
                consumers.remove(consumer)
                queue.append(msg)
                continue
        print(f"  {consumer} handles {msg}")
    lost = sorted({f"m{i}" for i in range(1, 7)} - set(emails_sent))
    dupes = sorted({m for m in emails_sent if emails_sent.count(m) > 1})
    print(f"  emails sent {len(emails_sent)} for 6 messages; lost {lost}; duplicated {dupes}\n")


run("ack before work")     # at-most-once
run("ack after work")      # at-least-once
