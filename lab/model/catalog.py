"""The built-in experiments: one topology document each in lab/experiments/, checked when first imported."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.model.figures import FIGURE_MEANINGS
from lab.model.predictions import without_answers
from lab.model.schema import Schema
from lab.model.topology import Preset, Topology, diagram, parse_topology, view_spec

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"


@dataclass(frozen=True)
class Experiment:
    """An experiment as the site shows it: its document, parameters, presets, diagram and view spec."""

    topology: Topology

    @property
    def slug(self) -> str:
        return self.topology.slug

    @property
    def title(self) -> str:
        return self.topology.title

    @property
    def summary(self) -> str:
        return self.topology.summary

    @property
    def schema(self) -> Schema:
        return self.topology.schema

    @property
    def presets(self) -> tuple[Preset, ...]:
        return self.topology.presets

    @property
    def default_preset(self) -> str:
        return self.topology.default_preset

    def preset(self, slug: str | None) -> Preset | None:
        return self.topology.preset(slug) if slug else None

    @functools.cached_property
    def diagram(self) -> dict[str, Any]:
        return diagram(self.topology)

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "summary": self.summary,
            "default_preset": self.default_preset,
            "presets": [p.as_json() for p in self.presets],
            "parameters": [p.as_json() for p in self.schema.params],
            "topology": without_answers(self.topology.document),
            "diagram": self.diagram,
            "view": view_spec(self.topology),
            "figure_meanings": FIGURE_MEANINGS,
        }


def load_document(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data if isinstance(data, dict) else {"_": data}


def load_experiments(directory: Path = EXPERIMENTS_DIR) -> dict[str, Experiment]:
    """Every document in `directory`, keyed by slug; a bad document fails loudly, naming its file."""
    found: dict[str, Experiment] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.json")]):
        experiment = Experiment(parse_topology(load_document(path), source=path.name))
        if experiment.slug in found:
            raise ValueError(f"{path.name}: slug {experiment.slug!r} is already used by another document")
        found[experiment.slug] = experiment
    return dict(sorted(found.items(), key=lambda item: (item[1].topology.order, item[0])))


EXPERIMENTS: dict[str, Experiment] = load_experiments()
# Where a new learner starts (an empty POST /lab/api/runs, the lab's front page): the first document by `order`.
DEFAULT_EXPERIMENT = next(iter(EXPERIMENTS))
