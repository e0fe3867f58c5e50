"""Toggles reach an engine as they happen: lab/runstate.py announces each change to a run's live knobs and
Engine.follow_live_changes listens, so a run's knobs are re-read when a toggle names the run instead of before
every request and message."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from lab.engine.interpreter import PARAMS_FOLLOWED_FRESH_S, PARAMS_FRESH_S
from lab.model.catalog import EXPERIMENTS
from lab.runstate import RunState
from tests.support.engine import VirtualLab

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


async def until(condition: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "it never happened"
        await asyncio.sleep(0.005)


async def test_a_toggle_reaches_a_following_engine_at_once_and_only_for_its_own_run() -> None:
    document = EXPERIMENTS["checkout"].topology.document
    toggled, untouched = VirtualLab(document), VirtualLab(document)
    engine = toggled.engine
    ctx, other = await engine.context(toggled.run_id), await engine.context(untouched.run_id)
    assert ctx.fresh_for_s == PARAMS_FRESH_S  # not following yet: knobs are looked at every frame
    following = asyncio.create_task(engine.follow_live_changes())
    try:
        await until(lambda: ctx.fresh_for_s == PARAMS_FOLLOWED_FRESH_S)
        await ctx.refresh()
        await other.refresh()
        assert ctx.params["email.down"] is False

        RunState(toggled.run_id).set_live({"email.down": True})

        await until(lambda: ctx.refreshed_at == float("-inf"))  # told: its knobs are stale now
        assert other.refreshed_at != float("-inf")  # a toggle of one run leaves the others' knobs alone
        await ctx.refresh()
        assert ctx.params["email.down"] is True
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    assert ctx.fresh_for_s == PARAMS_FRESH_S  # no longer told of changes: back to looking every frame
