"""A run's working state in Redis as the engine uses it (lab/engine/state.py): publishing onto a queue, handing
messages out, and claiming the deliveries that arrive."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from lab.engine.state import EngineState, Handing, hold_all
from tests.support.engine import ledger_of

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def new_run() -> EngineState:
    return EngineState(f"test-{uuid.uuid4().hex}", aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True))


def two_idle_consumers(queue: str, publishing: list[dict[str, Any]]) -> Handing:
    return Handing(queue, consumers=("", 2), prefetch=("", 1), down_param="worker.down", publishing=publishing)


async def publish_two(state: EngineState) -> list[tuple[EngineState, str, dict[str, Any]]]:
    """Two messages published onto queue `q` of two idle consumers: each is handed to one of them at once."""
    messages = [{"message_id": f"{state.run_id}-{n}", "n": n} for n in (1, 2)]
    [(taken, spent)] = await state.take([two_idle_consumers("q", messages)])
    assert spent == 2  # both deliveries count against the run's task budget
    return [(state, "q", {**message, "consumer": consumer}) for consumer, message in taken]


async def test_a_publish_is_queued_counted_as_outstanding_work_and_handed_out_in_one_call() -> None:
    state = new_run()

    handed = await publish_two(state)

    assert sorted(env["n"] for _, _, env in handed) == [1, 2]
    assert sorted(env["consumer"] for _, _, env in handed) == [1, 2]
    assert await state.outstanding() == 2
    ledger = await ledger_of(state, "q")
    assert {json.loads(raw)["engine"] for raw in ledger.values()} == {""}  # in transit: claimed by no engine yet


async def test_publishes_onto_several_queues_share_one_call_and_each_queue_hands_out_its_own() -> None:
    state = new_run()
    sends = {queue: [{"message_id": f"{state.run_id}-{queue}-{n}", "n": n} for n in (1, 2, 3)] for queue in "abc"}

    handed = await state.take([two_idle_consumers(queue, messages) for queue, messages in sends.items()])

    assert [sorted(m["n"] for _, m in taken) for taken, _ in handed] == [[1, 2]] * 3  # two consumers each
    assert [spent for _, spent in handed] == [2, 4, 6]  # the run's deliveries so far, counted queue by queue
    assert await state.outstanding() == 9  # every message published counts, handed out or waiting
    assert [await state.redis.llen(state.key("q", queue)) for queue in "abc"] == [1, 1, 1]


async def test_deliveries_arriving_together_are_claimed_at_once_and_a_stale_one_is_refused() -> None:
    first, second = new_run(), new_run()
    deliveries = await publish_two(first) + await publish_two(second)
    _, _, stale = deliveries[1]
    raw = (await ledger_of(first, "q"))[str(stale["consumer"])]
    assert await first.take_back("q", str(stale["consumer"]), raw)  # the watchdog took it back as lost

    assert [claimed for claimed, _ in await hold_all(deliveries, "engine-a")] == [True, False, True, True]
    again = await hold_all(deliveries, "engine-b")
    assert [claimed for claimed, _ in again] == [False, False, False, False]  # nobody claims one twice
    claimed_by = [json.loads(raw)["engine"] for raw in (await ledger_of(second, "q")).values()]
    assert claimed_by == ["engine-a", "engine-a"]


async def test_a_claim_reports_the_version_of_each_runs_live_knobs_so_it_doubles_as_a_refresh() -> None:
    quiet, toggled = new_run(), new_run()
    await toggled.set_live({"worker.down": False})
    deliveries = await publish_two(quiet) + await publish_two(toggled)

    versions = [version for _, version in await hold_all(deliveries, "engine-a")]

    assert versions[:2] == ["", ""]  # never toggled
    assert versions[2] == versions[3] != ""
    assert (await toggled.live_params_since(None) or ("",))[0] == versions[2]  # the version a refresh would read


async def test_a_hand_out_tells_the_engine_what_it_left_waiting_for_each_consumer() -> None:
    state = new_run()
    assert state.may_be_waiting("q", 1), "before any hand-out the engine cannot tell, so it assumes a message waits"

    await publish_two(state)  # each of the two consumers took one; nothing is left

    assert not state.may_be_waiting("q", 1) and not state.may_be_waiting("q", 2)
    third = {"message_id": f"{state.run_id}-3", "n": 3}
    await state.take([two_idle_consumers("q", [third])])  # both busy: it waits on the queue
    assert state.may_be_waiting("q", 1) and state.anything_waiting("q")


async def test_an_acknowledgement_and_a_put_back_update_what_the_engine_knows_waits() -> None:
    state = new_run()
    await publish_two(state)
    pipe = state.redis.pipeline(transaction=True)
    state.acknowledging(pipe, "q", 1)

    assert not state.still_waiting("q", 1, await pipe.execute())
    assert not state.anything_waiting("q")
    await state.enqueue("q", {"message_id": f"{state.run_id}-back", "n": 1}, front=True)  # a crashed consumer's
    assert state.may_be_waiting("q", 2), "after a put-back the engine flushes acknowledgements at once again"
