"""comms_lab: learn how services talk to each other by breaking them on a real broker."""

from comms_lab.celery import app as celery_app

__all__ = ("celery_app",)
