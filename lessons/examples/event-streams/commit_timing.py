"""Where a consumer commits its offset decides what a crash costs."""
from collections import Counter

LOG = [f"evt-{i}" for i in range(6)]
CRASH_AT = 3  # the process dies halfway through offset 3


class Crash(Exception):
    pass


def consume(order, effects, committed, crash):
    for offset in range(committed, len(LOG)):
        for n, step in enumerate(order):
            if step == "handle":
                effects[LOG[offset]] += 1  # the side effect: an email, a charge
            else:
                committed = offset + 1
            if crash and offset == CRASH_AT and n == 0:
                raise Crash(committed)  # first step done, second never runs
    return committed


for name, order in [("commit after handling", ("handle", "commit")),
                    ("commit before handling", ("commit", "handle"))]:
    effects = Counter()
    try:
        consume(order, effects, 0, crash=True)
    except Crash as c:
        committed = c.args[0]
    print(f"{name}: crashed at offset {CRASH_AT}, restart from offset {committed}")
    consume(order, effects, committed, crash=False)
    twice = [e for e, n in effects.items() if n > 1]
    lost = [e for e in LOG if effects[e] == 0]
    print(f"  handled twice: {twice}  never handled: {lost}")
