"""When Redis loses a run's latest events (a restart drops its last second of writes), no seq a page already holds
is ever used again for another event, and the run ends `interrupted` saying why, instead of carrying on."""

from __future__ import annotations

import time
import uuid

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings

from comms_lab.redis_client import redis_client, rkey
from lab.engine.sink import EventSink
from lab.events import RunEventLog
from lab.models import Run
from tests.support.lab import new_learner, start, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]

# What a Redis restart that lost its last second leaves: the run's counter and log both `back` events behind.
FORGET_LAST = """
local current = tonumber(redis.call('GET', KEYS[1]))
local kept = current - tonumber(ARGV[1])
redis.call('SET', KEYS[1], kept)
for seq = kept + 1, current do redis.call('XDEL', KEYS[2], '0-' .. seq) end
return current
"""


def forget_last_events(run_id: str, back: int) -> int:
    """Drop the run's newest `back` events as the restart would; returns the seq the pages had reached."""
    keys = [rkey("run", run_id, "seq"), rkey("run", run_id, "events")]
    return int(redis_client().eval(FORGET_LAST, 2, *keys, back))


async def test_after_redis_lost_events_numbering_resumes_above_them_and_the_loss_is_reported() -> None:
    run_id = f"test-{uuid.uuid4().hex}"
    sink = EventSink(aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True))
    reported: list[tuple[str, int, int]] = []

    async def report(run: str, first: int, last: int) -> None:
        reported.append((run, first, last))

    sink.on_lost_events = report
    for n in range(5):
        sink.emit(run_id, {"type": "probe", "n": n})
    await sink.flush(run_id)
    assert await sync_to_async(forget_last_events)(run_id, 2) == 5

    sink.emit(run_id, {"type": "probe", "n": 5})
    await sink.flush(run_id)

    assert reported == [(run_id, 4, 5)]
    logged = await sync_to_async(RunEventLog(run_id).after)(0)
    assert [(e["seq"], e["n"]) for e in logged] == [(1, 0), (2, 1), (3, 2), (6, 5)]


@pytest.mark.usefixtures("worker")
@pytest.mark.django_db(transaction=True)
def test_a_run_whose_log_went_backwards_ends_interrupted_with_the_reason_and_no_number_reused() -> None:
    run = start(new_learner(), mode="hybrid", duration=10, rate=5)
    log = RunEventLog(str(run.id))
    deadline = time.monotonic() + 30
    while log.last_seq() < 60 and time.monotonic() < deadline:
        time.sleep(0.1)
    reached = forget_last_events(str(run.id), 10)

    run = wait_finished(run)

    assert run.status == Run.Status.INTERRUPTED and run.summary is not None
    assert run.summary["ended_because"].startswith(f"Redis lost this run's events {reached - 9} to {reached}")
    seqs = [e["seq"] for e in run.stored_events()]
    assert seqs == sorted(set(seqs)) and not set(range(reached - 9, reached + 1)) & set(seqs)
    assert seqs[-1] > reached and run.stored_events()[-1]["status"] == "interrupted"
