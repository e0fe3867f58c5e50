import random
from typing import Any

import pytest

from lab.model.policies import BreakerConfig, Bulkhead, CircuitBreaker, RetryPolicy


class FixedRandom(random.Random):
    """uniform(a, b) always answers the point `fraction` of the way from a to b."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


class TestRetryPolicy:
    def test_exponential_backoff_doubles_from_the_initial_delay(self) -> None:
        policy = RetryPolicy(delay_ms=100, backoff="exponential", multiplier=2, max_delay_ms=10_000)
        assert [policy.base_delay_ms(n) for n in (1, 2, 3, 4)] == [100, 200, 400, 800]

    def test_linear_backoff_grows_by_the_initial_delay(self) -> None:
        policy = RetryPolicy(delay_ms=150, backoff="linear")
        assert [policy.base_delay_ms(n) for n in (1, 2, 3)] == [150, 300, 450]

    def test_constant_backoff_never_changes(self) -> None:
        policy = RetryPolicy(delay_ms=250, backoff="constant")
        assert {policy.base_delay_ms(n) for n in range(1, 6)} == {250}

    def test_delays_are_capped_at_max_delay(self) -> None:
        policy = RetryPolicy(delay_ms=100, multiplier=10, max_delay_ms=2_000)
        assert policy.base_delay_ms(4) == 2_000

    def test_no_jitter_gives_every_client_the_same_delay(self) -> None:
        policy = RetryPolicy(delay_ms=100, jitter="none")
        assert policy.delay_for(3, FixedRandom(0.1)) == policy.delay_for(3, FixedRandom(0.9)) == 400

    def test_full_jitter_draws_between_zero_and_the_backoff(self) -> None:
        policy = RetryPolicy(delay_ms=100, jitter="full")
        assert policy.delay_for(3, FixedRandom(0.25)) == 100  # a quarter of 400

    def test_equal_jitter_keeps_half_and_randomises_half(self) -> None:
        policy = RetryPolicy(delay_ms=100, jitter="equal")
        assert policy.delay_for(3, FixedRandom(0.5)) == 300  # 200 + half of 200

    def test_decorrelated_jitter_draws_up_to_three_times_the_previous_delay(self) -> None:
        policy = RetryPolicy(delay_ms=100, jitter="decorrelated", max_delay_ms=5_000)
        assert policy.delay_for(2, FixedRandom(1.0), previous_ms=400) == 1_200

    def test_max_attempts_counts_the_first_try(self) -> None:
        policy = RetryPolicy(max_attempts=3)
        assert [policy.should_retry(a) for a in (1, 2, 3)] == [True, True, False]


def rate_breaker(**overrides: Any) -> CircuitBreaker:
    config: dict[str, Any] = {
        "sliding_window_size": 4,
        "minimum_number_of_calls": 4,
        "failure_rate_threshold": 50.0,
        "wait_duration_in_open_state_ms": 5_000,
        "permitted_number_of_calls_in_half_open_state": 2,
    }
    config.update(overrides)
    return CircuitBreaker(BreakerConfig(**config))


class TestCircuitBreaker:
    def test_it_stays_closed_until_the_minimum_number_of_calls(self) -> None:
        breaker = rate_breaker()
        for t in range(3):
            breaker.record(t, success=False, duration_ms=10)
        assert breaker.state == "CLOSED"

    def test_it_opens_when_the_failure_rate_reaches_the_threshold(self) -> None:
        breaker = rate_breaker()
        for t, ok in enumerate([True, True, False, False]):
            breaker.record(t, success=ok, duration_ms=10)
        assert breaker.state == "OPEN"
        assert breaker.transitions == [{"from": "CLOSED", "to": "OPEN", "at": 3, "reason": "failure rate 50% ≥ 50%"}]

    def test_it_short_circuits_every_call_while_open(self) -> None:
        breaker = rate_breaker()
        for t in range(4):
            breaker.record(t, success=False, duration_ms=10)
        assert [breaker.allow(3 + s) for s in (0.1, 1, 4.9)] == [False, False, False]

    def test_it_half_opens_after_the_wait_and_permits_only_the_trial_calls(self) -> None:
        breaker = rate_breaker()
        for t in range(4):
            breaker.record(t, success=False, duration_ms=10)
        assert [breaker.allow(8.0) for _ in range(3)] == [True, True, False]
        assert breaker.state == "HALF_OPEN"

    def test_it_closes_when_the_trial_calls_succeed(self) -> None:
        breaker = rate_breaker()
        for t in range(4):
            breaker.record(t, success=False, duration_ms=10)
        breaker.allow(8.0)
        breaker.allow(8.0)
        breaker.record(8.1, success=True, duration_ms=10)
        breaker.record(8.2, success=True, duration_ms=10)
        assert [t["to"] for t in breaker.transitions] == ["OPEN", "HALF_OPEN", "CLOSED"]

    def test_it_reopens_when_the_trial_calls_fail(self) -> None:
        breaker = rate_breaker()
        for t in range(4):
            breaker.record(t, success=False, duration_ms=10)
        breaker.allow(8.0)
        breaker.allow(8.0)
        breaker.record(8.1, success=False, duration_ms=10)
        breaker.record(8.2, success=True, duration_ms=10)
        assert breaker.state == "OPEN"
        assert breaker.opened_at == 8.2

    def test_the_count_window_forgets_old_calls(self) -> None:
        breaker = rate_breaker(minimum_number_of_calls=2, failure_rate_threshold=60.0)
        for t, ok in enumerate([False, True, True, True, True]):
            breaker.record(t, success=ok, duration_ms=10)
        assert breaker.state == "CLOSED"
        assert len(breaker.window) == 4

    def test_the_time_window_forgets_calls_older_than_its_seconds(self) -> None:
        breaker = rate_breaker(sliding_window_type="time", sliding_window_size=10, minimum_number_of_calls=3)
        breaker.record(0, success=False, duration_ms=10)
        breaker.record(1, success=False, duration_ms=10)
        breaker.record(12, success=True, duration_ms=10)
        assert breaker.state == "CLOSED"
        assert [w[0] for w in breaker.window] == [12]

    def test_slow_calls_open_it_at_the_slow_call_rate(self) -> None:
        breaker = rate_breaker(slow_call_duration_threshold_ms=500, slow_call_rate_threshold=75.0)
        for t, ms in enumerate([600, 700, 800, 100]):
            breaker.record(t, success=True, duration_ms=ms)
        assert breaker.state == "OPEN"

    def test_consecutive_mode_opens_after_that_many_failures_in_a_row(self) -> None:
        breaker = CircuitBreaker(BreakerConfig(mode="consecutive", consecutive_failures=3))
        for t, ok in enumerate([False, False, True, False, False]):
            breaker.record(t, success=ok, duration_ms=10)
        assert breaker.state == "CLOSED"
        breaker.record(6, success=False, duration_ms=10)
        assert breaker.state == "OPEN"

    def test_it_survives_a_round_trip_through_its_stored_form(self) -> None:
        breaker = rate_breaker()
        for t in range(4):
            breaker.record(t, success=False, duration_ms=10)
        restored = CircuitBreaker.from_dict(breaker.config, breaker.to_dict())
        assert restored.state == "OPEN"
        assert restored.allow(5.0) is False
        assert restored.allow(9.0) is True


@pytest.mark.parametrize(("in_flight", "admitted"), [(0, True), (4, True), (5, False)])
def test_a_bulkhead_admits_only_up_to_its_limit(in_flight: int, admitted: bool) -> None:
    assert Bulkhead(max_concurrent=5).admits(in_flight) is admitted
