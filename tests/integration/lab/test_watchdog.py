"""The watchdog gives back what a dead worker took: a message in its consumer's hand, a delivery task it had
reserved but never started, a retry's countdown task it was holding. On the real Redis with a virtual clock; the
lost broker hop is a delivery the test swallows, as a killed worker swallows its reserved tasks."""

from __future__ import annotations

import time
from typing import Any

import pytest

from comms_lab.redis_client import rkey
from lab.engine.driver import lease_key
from lab.engine.interpreter import Engine
from lab.engine.state import due_backoffs
from lab.engine.watchdog import IN_TRANSIT_LIMIT_S, look_after_runs, put_back_orphans
from tests.support.engine import VirtualLab, ledger_of

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def payments(*, retry: bool = False, idempotent: bool = False) -> dict[str, Any]:
    """An order service sending one message per order to a payment consumer (100 ms) that logs `charged`."""
    link: dict[str, Any] = {"id": "q.pay", "kind": "queue", "from": "order", "to": "pay"}
    policies: dict[str, Any] = {}
    if idempotent:
        policies["dedup"] = {"kind": "idempotency", "idempotent": True, "key": "message_id"}
        link["idempotency"] = "dedup"
    if retry:
        policies["again"] = {"kind": "retry", "enabled": True, "max_attempts": 2, "delay_ms": 200}
        link["retry"] = "again"
    return {
        "slug": "payments",
        "title": "Payments",
        "services": {"order": {}, "pay": {"work_ms": 100, "faults": True, "steps": [{"emit": "charged"}]}},
        "policies": policies,
        "links": [link],
        "workload": {"entry": "order", "classes": {"order": {"steps": [{"send": "q.pay"}]}}},
    }


def swallow_first_delivery(lab: VirtualLab) -> list[dict[str, Any]]:
    """The first message handed to a consumer goes to a worker that dies before starting it; later ones arrive."""
    swallowed: list[dict[str, Any]] = []
    arrive = lab.engine.deliver

    def deliver(run_id: str, queue: str, message: dict[str, Any]) -> None:
        if swallowed:
            arrive(run_id, queue, message)
        else:
            swallowed.append(message)

    lab.engine.deliver = deliver
    return swallowed


async def redeliver_orphans(engine: Engine, run_id: str, *, now: float | None = None) -> None:
    """A watchdog round's work for one run, with what it has in flight read now (`now`: epoch seconds)."""
    ctx = await engine.context(run_id)
    in_flight = await ctx.state.in_flight(ctx.topology.queues())
    await put_back_orphans(engine, ctx, in_flight, now=time.time() if now is None else now)


def charges(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["type"] == "service.event" and e["name"] == "charged")


async def test_a_delivery_its_worker_never_started_is_put_back_once_past_the_transit_limit_and_charged_once() -> None:
    lab = VirtualLab(payments())
    swallowed = swallow_first_delivery(lab)
    await lab.request("order")
    await lab.clock.run_until_idle()
    assert len(swallowed) == 1
    await redeliver_orphans(lab.engine, lab.run_id, now=time.time() + IN_TRANSIT_LIMIT_S / 2)
    await lab.clock.run_until_idle()
    assert len(await ledger_of((await lab.context()).state, "q.pay")) == 1  # in transit: not given up on yet
    await redeliver_orphans(lab.engine, lab.run_id, now=time.time() + IN_TRANSIT_LIMIT_S + 1)
    events = await lab.finish()
    redelivered = [e for e in events if e["type"] == "message.redelivered"]
    assert [e["reason"] for e in redelivered] == ["its delivery reached no consumer within 10 s (its worker died)"]
    assert [e["outcome"] for e in events if e["type"] == "message.processed"] == ["ok"]
    assert charges(events) == 1


async def test_the_lost_delivery_turning_up_after_all_is_dropped_not_charged_twice() -> None:
    lab = VirtualLab(payments())
    swallowed = swallow_first_delivery(lab)
    await lab.request("order")
    await lab.clock.run_until_idle()
    await redeliver_orphans(lab.engine, lab.run_id, now=time.time() + IN_TRANSIT_LIMIT_S + 1)
    await lab.clock.run_until_idle()
    ctx = await lab.context()
    lab.clock.spawn(lab.engine.handle_message(ctx, "q.pay", swallowed[0]))  # the stale task, an hour late
    events = await lab.finish()
    assert [e["outcome"] for e in events if e["type"] == "message.processed"] == ["ok"]
    assert charges(events) == 1


async def test_a_message_in_the_hand_of_a_worker_that_stopped_beating_is_redelivered_at_once() -> None:
    lab = VirtualLab(payments())
    swallowed = swallow_first_delivery(lab)
    await lab.request("order")
    await lab.clock.run_until_idle()
    ctx = await lab.context()
    assert await ctx.state.hold("q.pay", swallowed[0], "gone-host:4242")  # claimed by an engine that then died
    assert not await ctx.state.hold("q.pay", swallowed[0], "other-host:1")  # one claim per delivery
    await redeliver_orphans(lab.engine, lab.run_id)
    events = await lab.finish()
    assert [e["reason"] for e in events if e["type"] == "message.redelivered"] == ["its consumer's worker died"]
    assert charges(events) == 1


async def test_one_watchdog_round_gives_back_what_a_dead_worker_held_in_every_running_run() -> None:
    """The round reads every running run's messages in flight together; each run's orphan is charged once."""
    labs = [VirtualLab(payments()), VirtualLab(payments())]
    for lab in labs:
        swallowed = swallow_first_delivery(lab)
        await lab.request("order")
        await lab.clock.run_until_idle()
        assert await (await lab.context()).state.hold("q.pay", swallowed[0], "gone-host:4242")
    watcher = labs[0]  # its engine looks after both runs, as any worker's does
    active = rkey("lab", "active", "all")
    await watcher.redis.zadd(active, {lab.run_id: time.time() for lab in labs})
    for lab in labs:
        await watcher.redis.set(lease_key(lab.run_id), "driver-host:1", ex=60)  # driven elsewhere: no takeover
    try:
        await look_after_runs(watcher.engine)
        await watcher.clock.run_until_idle()
        for lab in labs:
            await watcher.engine.sink.flush(lab.run_id)
    finally:
        await watcher.redis.zrem(active, *(lab.run_id for lab in labs))
        await watcher.redis.delete(*(lease_key(lab.run_id) for lab in labs))
    for lab in reversed(labs):
        events = await lab.finish()
        assert [e["reason"] for e in events if e["type"] == "message.redelivered"] == ["its consumer's worker died"]
        assert charges(events) == 1


async def test_the_key_claimed_by_an_idempotent_consumer_that_died_before_its_ack_does_not_skip_the_redelivery() -> (
    None
):
    """The dead worker claimed the order's key, but its charge died with it unlogged: the redelivery must charge."""
    lab = VirtualLab(payments(idempotent=True))
    swallowed = swallow_first_delivery(lab)
    await lab.request("order")
    await lab.clock.run_until_idle()
    ctx = await lab.context()
    assert await ctx.state.hold("q.pay", swallowed[0], "gone-host:4242")
    await ctx.state.redis.set(ctx.state.key("dedup", "pay", swallowed[0]["message_id"]), "0.1|gone-host:4242")
    await redeliver_orphans(lab.engine, lab.run_id)
    events = await lab.finish()
    assert [e["outcome"] for e in events if e["type"] == "message.processed"] == ["ok"]
    assert charges(events) == 1


async def test_a_retry_whose_countdown_task_died_with_its_worker_still_comes_back() -> None:
    lab = VirtualLab(payments(retry=True), **{"pay.error_rate": 1.0, "pay.schedule": "first_n", "pay.schedule_n": 1})
    timers: list[str] = []
    lab.engine.requeue = lambda _run, token, _delay: timers.append(token)
    await lab.request("order")
    await lab.clock.run_until_idle()
    assert len(timers) == 1  # the failed charge waits out its backoff; its countdown task is gone
    await redeliver_orphans(lab.engine, lab.run_id, now=time.time() + IN_TRANSIT_LIMIT_S / 2)
    _, backoffs = await (await lab.context()).state.in_flight([])
    assert due_backoffs(backoffs, before=time.time() + 60)  # not overdue enough yet
    await redeliver_orphans(lab.engine, lab.run_id, now=time.time() + 0.2 + IN_TRANSIT_LIMIT_S + 1)
    await lab.clock.run_until_idle()
    await lab.engine.end_backoff(await lab.context(), timers[0])  # the countdown task, arriving after all
    events = await lab.finish()
    assert [e["outcome"] for e in events if e["type"] == "message.processed"] == ["error", "ok"]
    assert len([e for e in events if e["type"] == "message.redelivered"]) == 1
    assert charges(events) == 1
