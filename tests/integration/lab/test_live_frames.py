"""Each batch of a run's events reaches the sockets watching it from the same script call that numbers and logs
it (lab/events.py): what a page receives live is exactly what the log holds, with the same numbers."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from lab.engine.sink import EventSink
from lab.events import RunEventLog, emit, group_name

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


async def watching(run_id: str) -> tuple[Any, str]:
    """A channel in the run's group, as a run socket joins it."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group_name(run_id), channel)
    return layer, channel


async def test_a_batch_the_engine_logs_arrives_live_numbered_as_in_the_log() -> None:
    run_id = f"test-{uuid.uuid4().hex}"
    layer, channel = await watching(run_id)
    sink = EventSink(aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True))
    sink.emit(run_id, {"type": "probe", "n": 0, "text": 'a "quoted" name, café, <b>'})
    sink.emit(run_id, {"type": "probe", "n": 1, "nested": {"depth": [1, 2.5, None, True]}})
    await sink.flush(run_id)

    frame = await asyncio.wait_for(layer.receive(channel), timeout=5)

    assert (frame["type"], frame["first"], frame["last"]) == ("run.events", 1, 2)
    events = json.loads(frame["frame"])["events"]  # the websocket frame, as text the page takes as it is
    assert [(e["seq"], e["n"]) for e in events] == [(1, 0), (2, 1)]
    assert events == await sync_to_async(RunEventLog(run_id).after)(0)


async def test_events_logged_outside_the_engine_arrive_live_too() -> None:
    run_id = f"test-{uuid.uuid4().hex}"
    layer, channel = await watching(run_id)

    logged = await sync_to_async(emit)(run_id, [{"type": "toggle", "values": {"email.down": True}, "by": "learner"}])

    frame = await asyncio.wait_for(layer.receive(channel), timeout=5)
    assert json.loads(frame["frame"]) == {"events": logged}
    assert (frame["first"], frame["last"]) == (1, 1)
