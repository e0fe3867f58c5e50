import random

from lab.model.workload import arrival_times


def test_uniform_arrivals_are_evenly_spaced() -> None:
    assert arrival_times(rate=2, duration=3, arrival="uniform", rng=random.Random(1)) == [0, 0.5, 1, 1.5, 2, 2.5]


def test_burst_arrivals_come_together_at_each_second() -> None:
    assert arrival_times(rate=1.5, duration=4, arrival="burst", rng=random.Random(1)) == [0, 1, 1, 2, 3, 3]


def test_poisson_arrivals_average_the_rate_and_repeat_with_the_seed() -> None:
    first = arrival_times(rate=20, duration=100, arrival="poisson", rng=random.Random(7))
    again = arrival_times(rate=20, duration=100, arrival="poisson", rng=random.Random(7))
    assert first == again
    assert 1850 <= len(first) <= 2150
    assert all(0 <= t < 100 for t in first) and first == sorted(first)
