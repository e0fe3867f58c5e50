"""The Celery app shared by the web process (which enqueues) and the worker (which runs the lab's services)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comms_lab.settings")

app = Celery("comms_lab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
