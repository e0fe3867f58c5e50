"""Worker life-cycle hooks (heartbeat for /healthz, restoring run queues) and merging runs at log-in."""

from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from comms_lab import heartbeat, learner_state
from comms_lab.learners import SESSION_KEY, Learner
from lab.models import Run

learner_state.forget_on_change(Run)  # runs as home and the lab index list them (lab.selectors.recent_runs)


@worker_ready.connect
def start_heartbeat(sender: Any = None, **_: Any) -> None:
    hostname = sender.hostname
    heartbeat.start(hostname)  # survives Redis errors: see comms_lab/heartbeat.py


@worker_shutdown.connect
def stop_heartbeat(sender: Any = None, **_: Any) -> None:
    heartbeat.stop()


@receiver(user_logged_in)
def adopt_anonymous_runs(sender: Any, request: Any, user: Any, **_: Any) -> None:
    """Runs and lab predictions made before signing in become the account's (the session's learner id survives
    log-in)."""
    from lab import predictions
    from lab.services import adopt_admissions

    anonymous_id = request.session.get(SESSION_KEY) if request is not None else None
    if anonymous_id:
        Run.objects.filter(anonymous_id=anonymous_id, user__isnull=True).update(user=user)
        learner_state.changed(Learner(None, anonymous_id).key)
        learner_state.changed(Learner(user.pk, anonymous_id).key)
        adopt_admissions(Learner(None, anonymous_id), Learner(user.pk, anonymous_id))
        predictions.adopt(anonymous_id, user.pk)
