"""The engine's asyncio Redis client packs commands with hiredis: the bytes on the wire are the ones redis-py's own
packer writes, so values, scripts and keys reach Redis unchanged."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio.connection import Connection

from comms_lab.redis_client import HiredisPackedConnection, async_redis_client, rkey

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]

ARGS = ("EVAL", "return {KEYS[1], ARGV[1]}", 1, "k:é", 0.003, 1_732_999_999.123456, 12_345_678_901_234_567_890, b"\x00")


def test_commands_are_packed_exactly_as_redis_py_packs_them() -> None:
    ours = b"".join(HiredisPackedConnection().pack_command(*ARGS))
    theirs = b"".join(Connection().pack_command(*ARGS))
    assert ours == theirs


async def test_values_and_scripts_round_trip_through_the_engine_client() -> None:
    redis = async_redis_client()
    key = rkey("test", uuid.uuid4().hex)
    await redis.set(key, "café | 0.003")
    pipe = redis.pipeline(transaction=True)
    pipe.get(key)
    pipe.eval("return {KEYS[1], ARGV[1], ARGV[2]}", 1, key, 0.25, "naïve")
    assert await pipe.execute() == ["café | 0.003", [key, "0.25", "naïve"]]
    await redis.aclose()
