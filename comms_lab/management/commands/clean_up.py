"""`manage.py clean_up`: apply the retention rules now (Celery beat also runs them every hour)."""

from typing import Any

from django.core.management.base import BaseCommand

from comms_lab import retention


class Command(BaseCommand):
    help = (
        "Delete expired sessions, each learner's finished lab runs beyond LAB_MAX_STORED_RUNS_PER_LEARNER, and "
        "anonymous learners with no activity for ANONYMOUS_RETENTION_DAYS (comms_lab/retention.py)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = retention.clean_up()
        for what, count in report.as_dict().items():
            self.stdout.write(f"{what.replace('_', ' ')}: {count}")
