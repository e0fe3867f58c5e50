"""The engine's exact events for each link kind and policy, on the real Redis with a virtual clock (milliseconds
per test). Times are exact: the clock only moves when every simulated service is waiting."""

from __future__ import annotations

from typing import Any

import pytest

from lab.engine.driver import sample
from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def chain(**overrides: Any) -> dict[str, Any]:
    """gateway → orders → inventory, each a sync call, as the cascade has them."""
    document: dict[str, Any] = {
        "slug": "chain",
        "title": "A chain of sync calls",
        "services": {
            "client": {"kind": "client"},
            "gateway": {"pool": {"size": 2, "when_full": "reject"}},
            "orders": {"work_ms": 20, "pool": {"size": 1, "when_full": "wait"}, "steps": [{"call": "to-inventory"}]},
            "inventory": {"work_ms": 50, "faults": True},
        },
        "policies": {
            "timeout": {"kind": "timeout", "enabled": False, "ms": 500},
            "retry": {"kind": "retry", "enabled": False, "max_attempts": 3, "delay_ms": 100},
            "breaker": {"kind": "breaker", "enabled": False},
        },
        "links": [
            {"id": "to-orders", "kind": "call", "from": "gateway", "to": "orders", "timeout": "timeout"},
            {
                "id": "to-inventory",
                "kind": "call",
                "from": "orders",
                "to": "inventory",
                "timeout": "timeout",
                "breaker": "breaker",
            },
        ],
        "workload": {"entry": "gateway", "retry": "retry", "classes": {"checkout": {"steps": [{"call": "to-orders"}]}}},
    }
    document.update(overrides)
    return document


async def test_a_healthy_chain_answers_after_the_sum_of_its_service_times() -> None:
    lab = VirtualLab(chain())
    await lab.request("checkout")
    events = await lab.finish()
    assert trace(events, "from", "to", "outcome") == [
        ("request.created", 0, None, None, None),
        ("request.attempt", 0, None, None, None),
        ("call.started", 0, "gateway", "orders", None),
        ("call.started", 20, "orders", "inventory", None),
        ("call.finished", 70, "orders", "inventory", "ok"),
        ("call.finished", 70, "gateway", "orders", "ok"),
        ("request.finished", 70, None, None, "ok"),
    ]
    assert [e["duration_ms"] for e in events if e["type"] == "call.finished"] == [50.0, 70.0]


async def test_a_timeout_answers_the_caller_at_its_deadline_while_the_callee_works_on() -> None:
    lab = VirtualLab(chain(), **{"timeout.enabled": True, "inventory.latency_ms": 3000.0})
    await lab.request("checkout")
    events = await lab.finish()
    assert trace(events, "from", "to", "outcome") == [
        ("request.created", 0, None, None, None),
        ("request.attempt", 0, None, None, None),
        ("call.started", 0, "gateway", "orders", None),
        ("call.started", 20, "orders", "inventory", None),
        ("call.finished", 500, "gateway", "orders", "timeout"),
        ("request.finished", 500, None, None, "failed"),
        ("call.finished", 520, "orders", "inventory", "timeout"),
    ]
    assert events[5]["reason"] == "orders: timeout"


async def test_a_full_pool_makes_the_next_caller_wait_for_a_free_thread() -> None:
    lab = VirtualLab(chain())
    await lab.request("checkout", 1)
    await lab.later(0.001, lambda: lab.request("checkout", 2))
    events = await lab.finish()
    finished = [(e["correlation_id"], round(e["t"] * 1000)) for e in events if e["type"] == "request.finished"]
    # orders has one thread: the second checkout gets it the moment the first gives it back, and takes 70 ms more.
    assert finished == [("r00001-checkout", 70), ("r00002-checkout", 140)]


async def test_a_thread_given_back_goes_to_the_longest_waiter_not_to_a_newcomer() -> None:
    lab = VirtualLab(chain(services={**chain()["services"], "gateway": {"pool": {"size": 5, "when_full": "reject"}}}))
    await lab.request("checkout", 1)
    await lab.later(0.001, lambda: lab.request("checkout", 2))  # waits for orders' one thread
    await lab.later(0.030, lambda: lab.request("checkout", 3))  # waits behind it
    await lab.later(0.070, lambda: lab.request("checkout", 4))  # arrives as the first one gives its thread back
    events = await lab.finish()
    finished = [(e["correlation_id"], round(e["t"] * 1000)) for e in events if e["type"] == "request.finished"]
    assert finished == [
        ("r00001-checkout", 70),
        ("r00002-checkout", 140),
        ("r00003-checkout", 210),
        ("r00004-checkout", 280),
    ]


async def test_a_pool_counts_exactly_how_long_every_thread_was_taken() -> None:
    lab = VirtualLab(chain())
    ctx = await lab.context()
    await lab.request("checkout", 1)  # orders' one thread: taken from 0 to 70 ms
    await lab.later(0.100, lambda: lab.request("checkout", 2))  # and from 100 to 170 ms
    for at in (0.05, 0.2):
        await lab.later(at, lambda: sample(ctx, lab.engine, whole=True))
    events = await lab.finish()
    samples = [(round(e["t"] * 1000), e["pools"], e["full_s"]) for e in events if e["type"] == "pool.usage"]
    assert samples == [
        (50, {"gateway": 1, "orders": 1}, {"gateway": 0.0, "orders": 0.05}),  # full since 0 and still full
        (200, {"gateway": 0, "orders": 0}, {"gateway": 0.0, "orders": 0.14}),
    ]


async def test_a_full_entry_pool_refuses_at_once() -> None:
    lab = VirtualLab(chain())
    for number in (1, 2, 3):
        await lab.later(number / 1000, lambda n=number: lab.request("checkout", n))
    events = await lab.finish()
    refused = [e for e in events if e["type"] == "request.finished" and e["outcome"] == "failed"]
    assert [(e["correlation_id"], e["reason"], e["latency_ms"]) for e in refused] == [
        ("r00003-checkout", "gateway pool exhausted", 0.0)
    ]


async def test_client_retries_wait_the_exponential_backoff_then_give_up() -> None:
    lab = VirtualLab(chain(), **{"retry.enabled": True, "inventory.down": True})
    await lab.request("checkout")
    events = await lab.finish()
    attempts = [round(e["t"] * 1000) for e in events if e["type"] == "request.attempt"]
    delays = [e["delay_ms"] for e in events if e["type"] == "retry.scheduled"]
    # each attempt: 20 ms in orders, 5 ms for inventory to refuse; then 100 ms, then 200 ms of backoff
    assert delays == [100.0, 200.0]
    assert attempts == [0, 125, 350]
    final = events[-1]
    assert (final["type"], final["outcome"], final["attempts"], final["reason"]) == (
        "request.finished",
        "failed",
        3,
        "orders: error",
    )


async def test_the_breaker_opens_after_consecutive_failures_and_short_circuits_until_its_wait_is_over() -> None:
    settings = {
        "breaker.enabled": True,
        "breaker.mode": "consecutive",
        "breaker.consecutive_failures": 2,
        "breaker.wait_duration_in_open_state_ms": 1000.0,
        "breaker.permitted_number_of_calls_in_half_open_state": 1,
        "inventory.down": True,
    }
    lab = VirtualLab(chain(), **settings)
    for number, at in enumerate((0.0, 0.1, 0.2, 1.3), start=1):
        await lab.later(at, lambda n=number: lab.request("checkout", n))
    await lab.later(1.25, lambda: lab.toggle(inventory__down=False))
    events = await lab.finish()
    moves = [(round(e["t"] * 1000), e["from"], e["to"]) for e in events if e["type"] == "breaker.state"]
    # failures at 25 and 125 ms open it; at 1,320 ms its 1 s wait is over and the trial call succeeds
    assert moves == [(125, "CLOSED", "OPEN"), (1320, "OPEN", "HALF_OPEN"), (1370, "HALF_OPEN", "CLOSED")]
    outcomes = [e["outcome"] for e in events if e["type"] == "call.finished" and e["to"] == "inventory"]
    assert outcomes == ["refused", "refused", "short_circuited", "ok"]


def queued(**settings: Any) -> dict[str, Any]:
    return {
        "slug": "queued",
        "title": "One queue",
        "services": {
            "client": {"kind": "client"},
            "producer": {},
            "worker": {"work_ms": 100, "instances": 1, "faults": True},
        },
        "policies": {"retry": {"kind": "retry", "enabled": True, "max_attempts": 3, "delay_ms": 300}},
        "links": [{"id": "jobs", "kind": "queue", "from": "producer", "to": "worker", "retry": "retry", **settings}],
        "workload": {"entry": "producer", "classes": {"job": {"steps": [{"send": "jobs"}]}}},
    }


async def test_a_failing_message_is_retried_after_the_backoff_then_dead_lettered() -> None:
    lab = VirtualLab(queued(), **{"worker.error_rate": 1.0})
    await lab.request("job")
    events = await lab.finish()
    consumed = [(round(e["t"] * 1000), e["attempt"]) for e in events if e["type"] == "message.consumed"]
    assert consumed == [(0, 1), (400, 2), (1100, 3)]  # 100 ms of work, then 300 ms and 600 ms of backoff
    dead = [e for e in events if e["type"] == "dlq.added"]
    assert [(round(e["t"] * 1000), e["reason"]) for e in dead] == [(1200, "worker failed 3 times")]


async def test_one_consumer_instance_takes_messages_one_at_a_time_in_order() -> None:
    lab = VirtualLab(queued())
    for number in (1, 2, 3):
        await lab.later(number / 1000, lambda n=number: lab.request("job", n))
    events = await lab.finish()
    done = [(e["correlation_id"], round(e["t"] * 1000)) for e in events if e["type"] == "message.processed"]
    assert done == [("r00001-job", 101), ("r00002-job", 201), ("r00003-job", 301)]


@pytest.mark.parametrize("published_at_ms", [100, 105])
async def test_a_message_published_as_the_consumer_finishes_starts_at_once_though_the_ack_rides_a_flush(
    published_at_ms: int,
) -> None:
    lab = VirtualLab(queued())
    await lab.request("job", 1)  # nothing waits behind it: its acknowledgement rides with the flush 10 ms later
    await lab.later(published_at_ms / 1000, lambda: lab.request("job", 2))  # as it finishes, or while the ack rides
    await lab.later(0.25, lambda: lab.request("job", 3))  # the consumer is idle again by then
    events = await lab.finish()
    consumed = [(e["correlation_id"], round(e["t"] * 1000)) for e in events if e["type"] == "message.consumed"]
    assert consumed == [("r00001-job", 0), ("r00002-job", published_at_ms), ("r00003-job", 250)]


async def test_a_down_consumer_holds_its_messages_until_it_recovers() -> None:
    lab = VirtualLab(queued(), **{"worker.down": True})
    await lab.request("job")
    await lab.later(1.0, lambda: lab.toggle(worker__down=False))
    await lab.later(1.0, lab.dispatch_all)
    events = await lab.finish()
    assert [(e["type"], round(e["t"] * 1000)) for e in events if e["type"].startswith("message.")] == [
        ("message.published", 0),
        ("message.consumed", 1000),
        ("message.processed", 1100),
    ]


async def test_a_design_that_amplifies_messages_without_end_is_stopped_by_its_task_budget() -> None:
    echo = {
        "slug": "echo",
        "title": "Every message makes two more",
        "services": {
            "client": {"kind": "client"},
            "echo": {"work_ms": 10, "instances": 4, "steps": [{"send": "noise"}]},
        },
        "links": [
            {
                "id": "noise",
                "kind": "topic",
                "from": "echo",
                "subscriptions": [{"id": "left", "to": "echo"}, {"id": "right", "to": "echo"}],
            }
        ],
        "workload": {"entry": "echo", "classes": {"shout": {"steps": [{"send": "noise"}]}}},
    }
    lab = VirtualLab(echo, task_budget=40)
    await lab.request("shout")
    events = await lab.finish()
    consumed = [e for e in events if e["type"] == "message.consumed"]
    stopped = [e for e in events if e["type"] == "dlq.added" and e["reason"] == "the run's task budget is spent"]
    assert len(consumed) <= 40 < len(consumed) + len(stopped)
    assert events[-1]["type"] != "handler.error"


async def test_queue_depths_go_out_when_they_change_and_whole_once_a_second() -> None:
    lab = VirtualLab(queued(), **{"worker.down": True})
    ctx = await lab.context()
    for tick in range(9):  # the driver's samples, every 250 ms for two seconds
        await lab.later(tick / 4, lambda: sample(ctx, lab.engine))
    await lab.later(0.6, lambda: lab.request("job"))  # waits on the queue: its consumer is down
    await lab.later(1.6, lambda: lab.toggle(worker__down=False))
    await lab.later(1.6, lab.dispatch_all)
    events = await lab.finish()
    depths = [(t, e["depths"]["jobs"]) for e in events if e["type"] == "queue.depth" for t in [round(e["t"] * 1000)]]
    assert depths == [(0, 0), (750, 1), (1000, 1), (1750, 0), (2000, 0)]  # 0.25 and 0.5 s: unchanged, not sent
    fidelity = [round(e["t"] * 1000) for e in events if e["type"] == "fidelity"]
    assert fidelity == [0, 1000, 2000]
