from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "lab"
    label = "lab"
    verbose_name = "Failure lab"

    def ready(self) -> None:
        from lab import signals  # noqa: F401
