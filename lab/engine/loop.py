"""One event loop per worker process, in its own thread, where every simulated request and message runs."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import socket
import threading
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)
# This process, as other workers see it: who holds a run's driver lease, who holds an unacknowledged message.
ENGINE_ID = f"{socket.gethostname()}:{os.getpid()}"


class EngineLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="lab-engine", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(_log_exception)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run `coro` on the engine loop; safe from any thread (Celery's pool threads hand work over here)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)


def _log_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    log.error("lab engine: %s", context.get("message"), exc_info=context.get("exception"))


_engine: EngineLoop | None = None
_lock = threading.Lock()


def engine() -> EngineLoop:
    global _engine
    with _lock:
        if _engine is None:
            _engine = EngineLoop()
        return _engine


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Start a coroutine beside the current one, keeping a reference so it is not collected mid-flight."""
    task = asyncio.get_running_loop().create_task(coro)
    _running.add(task)
    task.add_done_callback(_finished)
    return task


_running: set[asyncio.Task[Any]] = set()


def _finished(task: asyncio.Task[Any]) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("lab engine task failed", exc_info=task.exception())
