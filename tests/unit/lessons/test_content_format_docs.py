"""docs/content-format.md tells lesson writers which experiments and presets they may link to; its table must list
exactly what the lab has, or writers link to presets that are gone and miss the ones that exist."""

from __future__ import annotations

import re
from pathlib import Path

from lab.model.catalog import EXPERIMENTS

DOC = Path(__file__).resolve().parents[3] / "docs" / "content-format.md"


def documented_presets() -> dict[str, list[str]]:
    section = DOC.read_text().split("## Experiments and presets (link targets)", 1)[1]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (.+) \|$", section, flags=re.MULTILINE)
    return {experiment: re.findall(r"`([a-z0-9-]+)`", presets) for experiment, presets in rows}


def test_the_link_target_table_lists_every_experiment_with_every_preset_in_order() -> None:
    built = {slug: [p.slug for p in experiment.presets] for slug, experiment in EXPERIMENTS.items()}
    assert documented_presets() == built
