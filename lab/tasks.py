"""Celery tasks: thin shells that hand lab work to this process's engine loop and return at once.

`deliver` is the real broker hop of every queued message; the simulated waiting happens on the engine loop, so
a worker's threads are never held by a sleeping service. Messages handed out within a few milliseconds of each
other (a checkout's four sends, a topic's copies) travel in one task message, as a broker's prefetch batch does:
each stays its own entry in the run's Redis ledger, so a batch lost with its worker comes back message by message.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from comms_lab.redis_client import async_redis_client
from lab.engine.driver import drive
from lab.engine.interpreter import Engine
from lab.engine.loop import engine as engine_loop
from lab.engine.watchdog import watch


@functools.cache
def _engine() -> Engine:
    redis = async_redis_client(health_check_interval=30)
    engine = Engine(redis, deliver=_deliver, requeue=_requeue)
    engine_loop().submit(watch(engine))
    engine_loop().submit(engine.follow_live_changes())
    return engine


@worker_ready.connect
def start_engine(**_: Any) -> None:
    """A worker's engine starts with the worker, so it can take over runs even before it gets any task."""
    _engine()


# How long a delivery waits for others to share its task message: a broker hop costs a worker about 2 ms of CPU,
# and a step that sends to four queues hands out its messages within about a millisecond.
DELIVERY_BATCH_S = 0.003
_outgoing: list[tuple[str, str, dict[str, Any]]] = []


def _deliver(run_id: str, queue: str, message: dict[str, Any]) -> None:
    """Called on the engine loop: the delivery leaves with the others handed out in the next few milliseconds."""
    if not _outgoing:
        asyncio.get_running_loop().call_later(DELIVERY_BATCH_S, _send_deliveries)
    _outgoing.append((run_id, queue, message))


def _send_deliveries() -> None:
    batch = _outgoing.copy()
    _outgoing.clear()
    deliver.apply_async((batch,), argsrepr=f"({len(batch)} deliveries)")  # type: ignore[call-arg]  # Celery takes it; celery-types lacks it


def _requeue(run_id: str, token: str, delay_s: float) -> None:
    requeue.apply_async((run_id, token), countdown=delay_s)


@shared_task(name="lab.drive_run")
def drive_run(run_id: str) -> None:
    engine_loop().submit(drive(_engine(), run_id))


@shared_task(name="lab.deliver")
def deliver(deliveries: list[tuple[str, str, dict[str, Any]]]) -> None:
    engine_loop().submit(_engine().receive(deliveries))


@shared_task(name="lab.requeue")
def requeue(run_id: str, token: str) -> None:
    """A consumer retry's backoff is over: the message goes back on its queue for the next free instance."""
    engine_loop().submit(_end_backoff(run_id, token))


async def _end_backoff(run_id: str, token: str) -> None:
    engine = _engine()
    await engine.end_backoff(await engine.context(run_id), token)


@shared_task(name="lab.dispatch")
def dispatch(run_id: str) -> None:
    """A consumer came back: hand its waiting messages out again."""
    engine_loop().submit(_dispatch_all(run_id))


async def _dispatch_all(run_id: str) -> None:
    engine = _engine()
    await engine.dispatch_all(await engine.context(run_id))


@shared_task(name="lab.noop")
def noop(key: str, hops: int = 1) -> None:
    """The empty task bench/capacity.py measures its floor with: a chain of `hops` round trips, each published by
    a worker as a checkout's hops are; only the last increments the counter at `key` that the bench polls."""
    if hops > 1:
        # celery-types' apply_async lacks argsrepr, a real Celery option (the repr shown in logs)
        noop.apply_async((key, hops - 1), argsrepr="")  # type: ignore[call-arg]
        return
    from comms_lab.redis_client import redis_client

    redis_client().incr(key)
