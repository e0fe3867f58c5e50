"""The lessons' part of `manage.py load_content`: validate and render everything, as the web process will."""

from __future__ import annotations

from comms_lab.content import register_loader
from lessons.catalog import reload_catalog


@register_loader("lessons")
def load_lessons() -> str:
    catalog = reload_catalog()
    return f"{len(catalog.lessons)} lessons and {len(catalog.glossary)} glossary terms are valid"
