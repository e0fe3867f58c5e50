"""Round trips shared by the coroutines that ask for one in the same turn of the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from lab.engine.loop import spawn


class SharedPipeline:
    """Commands queued by coroutines that run in the same turn of the loop leave in one pipeline (not a transaction):
    a process drives many runs, and the check-ins of drivers that wake together cost one round trip instead of one
    each. Each caller gets its own commands' replies."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self.waiting: list[tuple[Callable[[Any], Any], asyncio.Future[list[Any]]]] = []

    async def execute(self, add: Callable[[Any], Any]) -> list[Any]:
        """`add(pipeline)` queues commands; their replies, once the shared pipeline ran (a failed command raises)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        self.waiting.append((add, future))
        if len(self.waiting) == 1:
            loop.call_soon(self._send)  # after every coroutine woken in this turn has queued its part
        return await future

    def _send(self) -> None:
        batch, self.waiting = self.waiting, []
        spawn(self._run(batch))

    async def _run(self, batch: list[tuple[Callable[[Any], Any], asyncio.Future[list[Any]]]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        parts = []
        for add, future in batch:
            start = len(pipe)
            add(pipe)
            parts.append((future, start, len(pipe)))
        try:
            replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:  # the connection failed: every caller hears of it
            for future, _, _ in parts:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, start, end in parts:
            if future.done():  # its caller was cancelled
                continue
            own = replies[start:end]
            failed = next((reply for reply in own if isinstance(reply, Exception)), None)
            if failed is not None:
                future.set_exception(failed)
            else:
                future.set_result(own)
