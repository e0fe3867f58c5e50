from typing import Any

from django.core.management.base import BaseCommand, CommandError

from comms_lab.content import LOADERS, ContentError


class Command(BaseCommand):
    help = "Validate and load lessons, the glossary and question banks; fails naming the file and field."

    def handle(self, *args: Any, **options: Any) -> None:
        errors = []
        for name, loader in LOADERS.items():
            try:
                self.stdout.write(f"{name}: {loader()}")
            except ContentError as exc:
                errors.append(f"{name}: {exc}")
        if errors:
            raise CommandError("content is invalid:\n" + "\n".join(errors))
