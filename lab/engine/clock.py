"""Time for the engine, injected: the real clock in workers, a virtual one in tests that jumps from one wake-up to
the next, so a handler's exact events are checked in milliseconds against the real Redis."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

from lab.engine.loop import spawn

T = TypeVar("T")

# Turns of the event loop every task must stay parked before the virtual clock jumps: a finished task wakes its
# waiter through a callback one turn later, so one calm turn alone could miss that waiter.
SETTLED_TURNS = 3
SETTLE_BACKSTOP_S = 0.005


class Clock(Protocol):
    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, task: asyncio.Task[Any], within_s: float) -> bool: ...

    async def until(self, done: asyncio.Future[T]) -> T: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class RealClock:
    """Wall-clock seconds; waits are the event loop's."""

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, task: asyncio.Task[Any], within_s: float) -> bool:
        """Wait for `task` at most `within_s` seconds, leaving it running; True when it finished in time."""
        done, _ = await asyncio.wait({task}, timeout=max(0.0, within_s))
        return bool(done)

    async def until(self, done: asyncio.Future[T]) -> T:
        """Wait for a future some other engine task resolves (a flush carrying this task's commands)."""
        return await done

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        return spawn(coro)


class VirtualClock:
    """Time stands still while any engine task can run; when all are waiting, it jumps to the earliest wake-up.

    Every task the engine starts must come from `spawn` and every wait must go through `sleep` or `wait`, so the
    clock knows when everything is waiting. Redis I/O still happens for real, between jumps.
    """

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()
        # Spawned tasks parked on a clock future not yet resolved. Counts follow the loop's callbacks, one turn
        # behind what they count, which is why `_settle` waits a few calm turns before a jump.
        self._waiting = 0
        self._failed: list[BaseException] = []
        self._maybe_idle: asyncio.Future[None] | None = None

    def time(self) -> float:
        return self.now

    def _timer(self, delay: float) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, delay), next(self._order), future))
        return future

    async def _park(self, future: asyncio.Future[Any]) -> None:
        if asyncio.current_task() in self._tasks:
            self._waiting += 1
            future.add_done_callback(self._woken)
            self._nudge()
        await future

    def _woken(self, _: asyncio.Future[None]) -> None:
        self._waiting -= 1

    async def sleep(self, seconds: float) -> None:
        await self._park(self._timer(seconds))

    async def wait(self, task: asyncio.Task[Any], within_s: float) -> bool:
        future = self._timer(within_s)

        def wake(_: asyncio.Task[Any]) -> None:
            if not future.done():
                future.set_result(None)

        task.add_done_callback(wake)
        if not task.done():
            await self._park(future)
        return task.done()

    async def until(self, done: asyncio.Future[T]) -> T:
        """Parked until another engine task resolves `done`: that task must be waiting on the clock meanwhile (the
        flush that carries this task's commands, behind its batching wait), or the clock cannot go on."""
        if not done.done():
            await self._park(done)
        return done.result()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._failed.append(task.exception())  # type: ignore[arg-type]
        self._nudge()

    def _idle(self) -> bool:
        """Every spawned task is parked on a clock future, so only a jump can move them."""
        return self._waiting >= len(self._tasks)

    def _nudge(self) -> None:
        if self._maybe_idle is not None and not self._maybe_idle.done() and self._idle():
            self._maybe_idle.set_result(None)

    async def run_until_idle(self, *, max_jumps: int = 100_000) -> None:
        """Let every task run until all are done, jumping time forward whenever they are all waiting."""
        for _ in range(max_jumps):
            await self._settle()
            while self._timers and self._timers[0][2].done():
                heapq.heappop(self._timers)
            if not self._timers:
                if self._tasks:
                    raise RuntimeError("engine tasks are waiting on something the virtual clock cannot wake")
                return
            wake, _, future = heapq.heappop(self._timers)
            self.now = max(self.now, wake)
            future.set_result(None)
        raise RuntimeError(f"still busy after {max_jumps} jumps of the virtual clock")

    async def _settle(self) -> None:
        """Give running tasks real time (their Redis round trips) until every one of them is parked.

        A task that parks or ends wakes this, so no time passes in sleeps; the few turns of the loop once all look
        parked let callbacks already queued (a finished task waking its waiter) show themselves first. An engine
        task that failed fails the run here.
        """
        calm = 0
        while calm < SETTLED_TURNS:
            if self._idle():
                calm += 1
                await asyncio.sleep(0)
                continue
            calm = 0
            self._maybe_idle = asyncio.get_running_loop().create_future()
            # The timeout is only a backstop: a park or a finished task is what normally ends the wait.
            await asyncio.wait({self._maybe_idle}, timeout=SETTLE_BACKSTOP_S)
            self._maybe_idle = None
        if self._failed:
            raise self._failed[0]
