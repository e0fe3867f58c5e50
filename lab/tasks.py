"""Celery tasks: the simulated services. Each is a thin shell over `simulation`, `driver` and `services`."""

from typing import Any

from celery import shared_task

from lab import driver, simulation
from lab.runstate import queue_name


@shared_task(name="lab.drive_run")
def drive_run(run_id: str) -> None:
    driver.drive(run_id)


@shared_task(name="lab.checkout_order")
def checkout_order(run_id: str, correlation_id: str, mode: str, created_at: float) -> None:
    with simulation.RunContext.load(run_id) as ctx:
        simulation.checkout_order(
            ctx,
            correlation_id=correlation_id,
            mode=mode,
            created_at=created_at,
            send=lambda env, delay_s: _enqueue(run_id, env, delay_s),
        )


def _enqueue(run_id: str, env: dict[str, Any], delay_s: float | None = None) -> None:
    consume_message.apply_async((run_id, env), queue=queue_name(run_id, env["to"]), countdown=delay_s)


@shared_task(name="lab.consume_message", bind=True, max_retries=None)
def consume_message(self: Any, run_id: str, env: dict[str, Any]) -> None:
    with simulation.RunContext.load(run_id) as ctx:
        outcome = simulation.consume(ctx, env)
        if outcome.action in ("done", "dead"):
            ctx.settle(-1)
            return
    if outcome.action == "requeue":
        _enqueue(run_id, env)
    else:
        retried = {**env, "attempt": env["attempt"] + 1}
        raise self.retry(args=(run_id, retried), countdown=outcome.countdown_s, queue=queue_name(run_id, env["to"]))


@shared_task(name="lab.cascade_request", bind=True, max_retries=None)
def cascade_request(self: Any, run_id: str, correlation_id: str, path: str, created_at: float, attempt: int) -> None:
    with simulation.RunContext.load(run_id) as ctx:
        outcome = simulation.cascade_request(
            ctx, correlation_id=correlation_id, path=path, created_at=created_at, attempt=attempt
        )
        if outcome.retry_in_s is None:
            simulation.finish_request(
                ctx,
                correlation_id=correlation_id,
                created_at=created_at,
                ok=outcome.ok,
                path=path,
                attempts=attempt,
                reason=outcome.reason,
            )
            return
    raise self.retry(args=(run_id, correlation_id, path, created_at, attempt + 1), countdown=outcome.retry_in_s)
