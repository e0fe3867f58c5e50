import random

from lab.model.failures import CallFault, FailureSpec, decide


def test_a_healthy_service_gets_no_fault() -> None:
    assert decide(FailureSpec(), call_index=1, now=0, rng=random.Random(1)) == CallFault()


def test_a_down_service_refuses_the_connection() -> None:
    fault = decide(FailureSpec(down=True), call_index=1, now=0, rng=random.Random(1))
    assert fault.refused and fault.fails


def test_latency_adds_its_delay_plus_or_minus_jitter() -> None:
    spec = FailureSpec(latency_ms=300, jitter_ms=100)
    delays = [decide(spec, call_index=1, now=0, rng=random.Random(seed)).extra_latency_ms for seed in range(200)]
    assert 200 <= min(delays) < 215 and 385 < max(delays) <= 400


def test_an_error_rate_fails_about_that_share_of_calls() -> None:
    spec = FailureSpec(error_rate=0.3)
    errors = sum(decide(spec, call_index=1, now=0, rng=random.Random(seed)).error for seed in range(2000))
    assert 540 <= errors <= 660


def test_the_same_seed_rolls_the_same_dice() -> None:
    spec = FailureSpec(error_rate=0.5, drop_rate=0.5, duplicate_rate=0.5, jitter_ms=50)
    assert decide(spec, call_index=1, now=0, rng=random.Random("42:m1")) == decide(
        spec, call_index=1, now=0, rng=random.Random("42:m1")
    )


def test_first_n_hits_only_the_first_calls() -> None:
    spec = FailureSpec(down=True, schedule="first_n", schedule_n=2)
    assert [decide(spec, call_index=i, now=0, rng=random.Random(0)).refused for i in (1, 2, 3)] == [True, True, False]


def test_every_kth_hits_every_kth_call() -> None:
    spec = FailureSpec(error_rate=1.0, schedule="every_kth", schedule_n=3)
    assert [decide(spec, call_index=i, now=0, rng=random.Random(0)).error for i in range(1, 7)] == [
        False,
        False,
        True,
        False,
        False,
        True,
    ]


def test_for_seconds_lasts_that_long_after_it_was_switched_on() -> None:
    spec = FailureSpec(down=True, schedule="for_seconds", schedule_n=5, schedule_since=10.0)
    assert [decide(spec, call_index=1, now=t, rng=random.Random(0)).refused for t in (10, 14.9, 15)] == [
        True,
        True,
        False,
    ]


def test_a_spec_reads_only_its_own_service_fields() -> None:
    params = {"email.down": True, "email.latency_ms": 50.0, "payment.down": False, "email_ms": 800.0}
    assert FailureSpec.from_params(params, "email") == FailureSpec(down=True, latency_ms=50.0)


def test_crashes_are_passed_through_for_the_consumer_to_act_on() -> None:
    fault = decide(FailureSpec(crash="before_ack"), call_index=1, now=0, rng=random.Random(0))
    assert fault.crash == "before_ack"


def test_at_the_end_of_the_load_every_service_comes_back_up_and_every_subscriber_subscribes_again() -> None:
    from lab.model.failures import healing

    live = {"mail.down": True, "stock.down": False, "sub.mail.subscribed": False, "sub.log.subscribed": True}
    assert healing(live) == {"mail.down": False, "sub.mail.subscribed": True}
