"""Round trips shared by the coroutines that ask in the same turn of the engine's loop (lab/engine/together.py), as
the drivers of a process's runs do when they check in at the same moment; and the grid each run samples on."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from comms_lab.redis_client import rkey
from lab.engine.driver import SAMPLE_EVERY_S, next_beat
from lab.engine.together import SharedPipeline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


class CountingRedis(aioredis.Redis):
    """The real client, counting the pipelines it hands out (each is one round trip)."""

    pipelines = 0

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.pipelines += 1
        return super().pipeline(*args, **kwargs)


def key(name: str) -> str:
    return rkey("test", uuid.uuid4().hex, name)


async def test_callers_in_the_same_turn_share_one_round_trip_and_each_gets_its_own_replies() -> None:
    redis = CountingRedis(connection_pool=aioredis.ConnectionPool.from_url(settings.REDIS_URL, decode_responses=True))
    shared = SharedPipeline(redis)
    first, second = key("first"), key("second")

    replies = await asyncio.gather(
        shared.execute(lambda pipe: (pipe.set(first, "a"), pipe.get(first))),
        shared.execute(lambda pipe: pipe.incrby(second, 7)),
    )

    assert replies == [[True, "a"], [7]]
    assert redis.pipelines == 1


async def test_a_failing_command_fails_only_its_own_caller() -> None:
    redis = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    shared = SharedPipeline(redis)
    text, counter = key("text"), key("counter")
    await redis.set(text, "not a number")

    failed: BaseException | list[Any]
    fine: BaseException | list[Any]
    failed, fine = await asyncio.gather(
        shared.execute(lambda pipe: pipe.incr(text)),
        shared.execute(lambda pipe: pipe.incr(counter)),
        return_exceptions=True,
    )

    assert isinstance(failed, aioredis.ResponseError) and "not an integer" in str(failed)
    assert fine == [1]


def test_a_run_samples_on_its_own_grid_even_after_a_late_wake() -> None:
    for moments_after in (0.0, 0.001, SAMPLE_EVERY_S / 2, SAMPLE_EVERY_S * 0.999):
        assert next_beat(2 * SAMPLE_EVERY_S + moments_after) == 3 * SAMPLE_EVERY_S
