"""The engine's event sink on the real Redis: every run with something pending is logged by one flush, each run's
events in its own gapless log in the order they were emitted, and an event can be one of several, picked by a
command committed with it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from comms_lab.redis_client import rkey
from lab.engine.sink import EventSink
from lab.events import RunEventLog, outcomes_key

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def new_run() -> str:
    return f"test-{uuid.uuid4().hex}"


def sink() -> EventSink:
    return EventSink(aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True))


async def logged(run_id: str) -> list[dict[str, Any]]:
    return await sync_to_async(RunEventLog(run_id).after)(0)


async def test_one_flush_logs_every_run_pending_each_in_its_own_log_in_order() -> None:
    events = sink()
    first, second = new_run(), new_run()
    for n in range(3):
        events.emit(first, {"type": "probe", "n": n})
        events.emit(second, {"type": "probe", "n": 10 + n})

    await events.flush(first)  # the caller waits for its run; the other run's events leave with them

    assert [(e["seq"], e["n"]) for e in await logged(first)] == [(1, 0), (2, 1), (3, 2)]
    assert [(e["seq"], e["n"]) for e in await logged(second)] == [(1, 10), (2, 11), (3, 12)]
    assert not events.pending


async def test_each_run_gets_the_replies_of_the_commands_it_committed_with_its_events() -> None:
    events = sink()
    first, second = new_run(), new_run()
    events.emit(first, {"type": "probe"})
    mine = events.commit_with_log(first, lambda pipe: pipe.incrby(rkey("run", first, "probe-count"), 5))
    events.emit(second, {"type": "probe"})
    theirs = events.commit_with_log(
        second, lambda pipe: (pipe.set(rkey("run", second, "x"), "y"), pipe.get(rkey("run", second, "x")))
    )
    events.settle(second, rkey("run", second, "outstanding"), -1)

    await events.flush()

    assert mine.results == [5]
    assert theirs.results == [True, "y"]
    assert await events.redis.get(rkey("run", second, "outstanding")) == "-1"
    assert len(await logged(first)) == len(await logged(second)) == 1


@pytest.mark.parametrize(("answer", "picked"), [(0, "skipped"), (1, "again"), (2, "first")])
async def test_the_answer_a_committed_command_leaves_picks_which_event_is_logged(answer: int, picked: str) -> None:
    events = sink()
    run_id = new_run()
    events.emit(run_id, {"type": "probe", "n": 1})
    events.emit_one_of(
        run_id,
        "consumer-1:m1",
        [{"type": "probe", "was": "skipped"}, {"type": "probe", "was": "again"}, {"type": "probe", "was": "first"}],
    )
    events.commit_with_log(run_id, lambda pipe: pipe.hset(outcomes_key(run_id), "consumer-1:m1", answer))
    events.emit(run_id, {"type": "probe", "n": 3})

    await events.flush(run_id)

    assert [(e["seq"], e.get("n"), e.get("was")) for e in await logged(run_id)] == [
        (1, 1, None),
        (2, None, picked),
        (3, 3, None),
    ]
    assert await events.redis.exists(outcomes_key(run_id)) == 0, "an outcome is taken out once it picked its event"


async def test_an_event_with_no_outcome_to_pick_it_fails_the_flush_and_logs_nothing_of_that_run() -> None:
    events = sink()
    run_id = new_run()
    events.emit(run_id, {"type": "probe", "n": 1})
    events.emit_one_of(run_id, "never-answered", [{"type": "probe"}, {"type": "probe"}])

    with pytest.raises(Exception, match="no outcome never-answered"):
        await events.flush(run_id)

    assert await logged(run_id) == []
