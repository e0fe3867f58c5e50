"""Seeded workloads: when each request arrives and which path it takes."""

from __future__ import annotations

import math
import random
from typing import Literal

Arrival = Literal["uniform", "poisson", "burst"]


def arrival_times(*, rate: float, duration: float, arrival: Arrival, rng: random.Random) -> list[float]:
    """Arrival instants in run seconds, in order, all before `duration`."""
    if arrival == "uniform":
        count = math.floor(rate * duration + 1e-9)
        return [i / rate for i in range(count)]
    if arrival == "poisson":
        times, now = [], rng.expovariate(rate)
        while now < duration:
            times.append(now)
            now += rng.expovariate(rate)
        return times
    # burst: every whole second, the requests due in that second arrive together.
    times, owed = [], 0.0
    for second in range(math.ceil(duration)):
        owed += rate
        count = math.floor(owed + 1e-9)
        owed -= count
        times += [float(second)] * count
    return times
