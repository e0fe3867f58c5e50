"""The glossary: YAML files in `lessons/content/glossary/`, merged into one dictionary keyed by slug.

Glossary slugs double as the concepts lessons teach and questions test, so a slug must be unique across every
file and every `see_also` must name a slug that exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

# libyaml's safe loader when PyYAML was built with it: ten times faster, and content loads on every start.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TERM_FIELDS = {"slug", "term", "definition", "see_also"}


@dataclass(frozen=True)
class GlossaryTerm:
    slug: str
    term: str
    definition: str
    see_also: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"/glossary/#{self.slug}"


def shown(path: Path) -> str:
    """A path as error messages print it: relative to the project when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def load_glossary(directory: Path) -> tuple[dict[str, GlossaryTerm], list[str]]:
    """Every term in `directory/*.yaml`, and the problems found, each naming its file and field."""
    terms: dict[str, GlossaryTerm] = {}
    origin: dict[str, str] = {}
    errors: list[str] = []
    files = sorted(directory.glob("*.yaml"))
    if not files:
        errors.append(f"{shown(directory)}: no glossary files (*.yaml)")
    for path in files:
        name = shown(path)
        try:
            entries = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError as exc:
            errors.append(f"{name}: invalid YAML: {exc}")
            continue
        if not isinstance(entries, list):
            errors.append(f"{name}: expected a list of terms")
            continue
        for index, entry in enumerate(entries):
            term = _term(entry, f"{name}: [{index}]", errors)
            if term is None:
                continue
            if term.slug in terms:
                errors.append(f"{name}: [{index}].slug: {term.slug!r} is already defined in {origin[term.slug]}")
                continue
            terms[term.slug] = term
            origin[term.slug] = name
    for slug, term in terms.items():
        for target in term.see_also:
            if target not in terms:
                errors.append(f"{origin[slug]}: {slug}.see_also: unknown term {target!r}")
    return terms, errors


def _term(entry: Any, where: str, errors: list[str]) -> GlossaryTerm | None:
    if not isinstance(entry, dict):
        errors.append(f"{where}: expected a mapping with slug, term and definition")
        return None
    found = len(errors)
    for key in sorted(set(entry) - TERM_FIELDS):
        errors.append(f"{where}.{key}: unknown field; allowed: {', '.join(sorted(TERM_FIELDS))}")
    slug = entry.get("slug")
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        errors.append(f"{where}.slug: must be a lowercase-kebab string, got {slug!r}")
    for key in ("term", "definition"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            errors.append(f"{where}.{key}: required, a non-empty string")
    see_also = entry.get("see_also", [])
    if not isinstance(see_also, list) or not all(isinstance(s, str) for s in see_also):
        errors.append(f"{where}.see_also: must be a list of glossary slugs")
    if len(errors) > found:
        return None
    return GlossaryTerm(
        slug=str(slug),
        term=entry["term"].strip(),
        definition=" ".join(entry["definition"].split()),
        see_also=tuple(see_also),
    )
