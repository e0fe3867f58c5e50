from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "Lessons"

    def ready(self) -> None:
        # Registering the loader and the log-in receiver; nothing is read from disk until first use.
        from lessons import loader, signals  # noqa: F401
