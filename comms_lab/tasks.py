"""Scheduled housekeeping, run by Celery beat (settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from comms_lab import retention


@shared_task(name="comms_lab.clean_up", ignore_result=True)
def clean_up() -> dict[str, int]:
    return retention.clean_up().as_dict()
