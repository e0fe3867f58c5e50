"""Does a lab run count for a lab question? A pure function of the run's record and the preset it claims to be.

A lab question asks for a number the preset's effect produces, so only a run that really showed that effect can
be graded: the preset's settings and scripted toggles, played to the end, finished, with its timings kept. Every
rule is derived from the topology document, so a new experiment's questions need no hand-written checks. Each
problem is a sentence telling the learner what to change; a run with none qualifies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab.model.topology import Preset, Topology
from quizzes.grading import metric_value

# Settings a learner may change and still have made the preset's run: a new seed draws new random numbers, the
# effect the question asks about must show on any of them.
FREE_SETTINGS = frozenset({"seed"})
# A run stopped this close to its end (seconds) still played its whole script and load.
END_SLACK_S = 0.5
# Who may change live values during a qualifying run: the preset's script, and the engine healing outages as
# the load ends. A learner's own toggle makes it a different experiment.
AUTOMATIC_TOGGLES = frozenset({"preset", "run end"})


@dataclass(frozen=True)
class RunRecord:
    """What grading needs to know about one stored run (built from a `lab.models.Run` by the selectors)."""

    experiment: str
    preset: str
    status: str  # queued, running, closing, finished, failed, interrupted
    config: Mapping[str, Any]
    summary: Mapping[str, Any] | None
    document: Mapping[str, Any] | None  # the topology document the run executed


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# What only tells the story of an experiment: rewording a notice or adding a prediction must not void every run
# learners already made of it. Everything else in the document changes what a run does.
NARRATION = frozenset({"title", "summary", "order", "default_preset", "view"})
PRESET_NARRATION = frozenset({"title", "notice", "predict", "next"})


def _executable(document: Mapping[str, Any]) -> Any:
    """The document as stored JSON (a YAML document equals its round trip through the database), narration out."""
    normal = json.loads(json.dumps(document))
    presets = [{k: v for k, v in p.items() if k not in PRESET_NARRATION} for p in normal.get("presets", [])]
    return {**{k: v for k, v in normal.items() if k not in NARRATION}, "presets": presets}


def _same_document(ran: Mapping[str, Any] | None, built_in: Mapping[str, Any]) -> bool:
    return ran is not None and _executable(ran) == _executable(built_in)


def _toggles(summary: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    toggles = summary.get("toggles")
    return [t for t in toggles if isinstance(t, Mapping)] if isinstance(toggles, Sequence) else []


def _applied(step_at: float, values: Mapping[str, Any], toggles: Sequence[Mapping[str, Any]]) -> bool:
    """The script step took effect: some toggle at or after its second set every one of its values."""
    return any(
        float(t.get("t", 0)) >= step_at - END_SLACK_S
        and all((t.get("values") or {}).get(k) == v for k, v in values.items())
        for t in toggles
    )


def qualification_problems(run: RunRecord, *, topology: Topology, preset: Preset, metric: str = "") -> list[str]:
    """What keeps `run` from counting as a full run of `preset`, in words a learner can act on; [] if it counts."""
    name = f"{topology.slug} / {preset.slug}"
    if run.experiment != topology.slug or run.preset != preset.slug:
        ran = f"{run.experiment} / {run.preset or 'no preset'}"
        return [f"That run was of {ran}; this question needs a run of {name}."]
    if run.status in ("queued", "running", "closing"):
        return [f"Your run of {name} is still going: wait for it to finish, then enter its number."]
    if run.status != "finished":
        return [f"Your run of {name} was {run.status} before it could finish: run the preset again."]
    if not _same_document(run.document, topology.document):
        return [
            f"That run used a different version of {topology.slug} (a design of your own, or the experiment "
            f"before it was last changed): run the built-in {preset.slug} preset again."
        ]
    problems: list[str] = []
    expected = {**topology.schema.defaults(), **preset.config}
    by_name = {p.name: p for p in topology.schema.params}
    for key, value in expected.items():
        if key not in FREE_SETTINGS and run.config.get(key) != value:
            unit = f" {by_name[key].unit}" if key in by_name and by_name[key].unit else ""
            used = _shown(run.config[key]) + unit if key in run.config else "no value"
            problems.append(f"That run used {key} {used}; the preset uses {_shown(value)}{unit}.")
    summary = run.summary or {}
    duration = float(expected.get("duration", 0))
    load_s = summary.get("load_s")
    if not isinstance(load_s, int | float):
        problems.append(f"That run was saved before runs recorded how long they played: run {name} again.")
    elif load_s < duration - END_SLACK_S and run.config.get("duration") == expected.get("duration"):
        problems.append(
            f"Your latest run of {preset.slug} stopped at {load_s:.0f} s of {duration:.0f} s: run it to the end."
        )
    toggles = _toggles(summary)
    played = float(load_s) if isinstance(load_s, int | float) else duration
    for step in preset.script:
        if step.at <= played and not _applied(step.at, step.values, toggles):
            change = ", ".join(f"{k} {_shown(v)}" for k, v in step.values.items())
            problems.append(f"The preset's toggle at {step.at:g} s ({change}) never took effect in that run.")
    for toggle in toggles:
        if toggle.get("by") not in AUTOMATIC_TOGGLES:
            change = ", ".join(f"{k} {_shown(v)}" for k, v in (toggle.get("values") or {}).items())
            problems.append(
                f"You changed {change} at {float(toggle.get('t', 0)):.0f} s; the preset's effect needs its own "
                "settings: run it again without changing live values."
            )
    fidelity = summary.get("fidelity") or {}
    if fidelity.get("ok") is False:
        problems.append(
            f"The lab was too busy to keep that run's timings (they lagged {fidelity.get('lag_pct', '?')}%), so "
            "its numbers do not show the model: run it again."
        )
    if metric and not problems and metric_value(summary, metric) is None:
        problems.append(f"That run recorded no {metric}.")
    return problems
