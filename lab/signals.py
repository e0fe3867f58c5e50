"""Worker life-cycle hooks (heartbeat for /healthz, restoring run queues) and merging runs at log-in."""

import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from comms_lab.learners import SESSION_KEY
from comms_lab.redis_client import redis_client, rkey

HEARTBEAT_EVERY_S = 2
HEARTBEAT_TTL_S = 6
_stop_heartbeat = threading.Event()


def heartbeat_key(hostname: str) -> str:
    return rkey("workers", hostname)


@worker_ready.connect
def start_heartbeat(sender: Any = None, **_: Any) -> None:
    hostname = sender.hostname

    def beat() -> None:
        while not _stop_heartbeat.is_set():
            redis_client().set(heartbeat_key(hostname), "1", ex=HEARTBEAT_TTL_S)
            _stop_heartbeat.wait(HEARTBEAT_EVERY_S)

    threading.Thread(target=beat, name="lab-heartbeat", daemon=True).start()
    # A worker that starts while runs are going joins in consuming their queues.
    for queue in redis_client().smembers(rkey("lab", "consumed-queues")):
        sender.app.control.add_consumer(queue, destination=[hostname], reply=False)


@worker_shutdown.connect
def stop_heartbeat(sender: Any = None, **_: Any) -> None:
    _stop_heartbeat.set()
    if sender is not None:
        redis_client().delete(heartbeat_key(sender.hostname))


@receiver(user_logged_in)
def adopt_anonymous_runs(sender: Any, request: Any, user: Any, **_: Any) -> None:
    """Runs made before signing in become the account's (the session's learner id survives log-in)."""
    from lab.models import Run

    anonymous_id = request.session.get(SESSION_KEY) if request is not None else None
    if anonymous_id:
        Run.objects.filter(anonymous_id=anonymous_id, user__isnull=True).update(user=user)
