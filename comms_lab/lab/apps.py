from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "comms_lab.lab"
    label = "lab"
    verbose_name = "Failure lab"

    def ready(self) -> None:
        from comms_lab.lab import signals  # noqa: F401
