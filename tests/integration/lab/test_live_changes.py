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
from lab.runstate import LIVE_VERSION, RunState
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

        await until(lambda: ctx.stale)  # told: its knobs are stale now
        assert not other.stale  # a toggle of one run leaves the others' knobs alone
        await ctx.refresh()
        assert ctx.params["email.down"] is True
    finally:
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    assert ctx.fresh_for_s == PARAMS_FRESH_S  # no longer told of changes: back to looking every frame


async def test_a_change_announced_while_a_read_was_on_its_way_is_read_next_time() -> None:
    lab = VirtualLab(EXPERIMENTS["checkout"].topology.document)
    ctx = await lab.context()
    ctx.fresh_for_s = PARAMS_FOLLOWED_FRESH_S  # as while its engine follows the announcements
    version = await ctx.state.redis.hget(ctx.state.key("live"), LIVE_VERSION)
    await ctx.refresh()
    sent_with = ctx.changes_announced  # a delivery's claim leaves, reading the knobs' version

    RunState(lab.run_id).set_live({"email.down": True})
    ctx.announce_change()  # the toggle is announced before the claim's answer comes back
    ctx.saw_live_version(version or "", announced=sent_with)  # the answer: the version from before the toggle

    assert ctx.stale
    await ctx.refresh()
    assert ctx.params["email.down"] is True
