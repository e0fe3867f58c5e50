"""A preset's prediction question and its natural next preset: the "predict → run → debrief" loop as data.

A learner commits to an answer before the run starts, so the run can surprise them; the debrief then puts the
answer beside the number the run recorded. Pure Python: the parser (lab/model/topology.py) builds these, the
lab page shows them, and quiz grading judges a stored prediction against the graded run (`judge`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.model.topology import _Checker

PREDICT_FIELDS = {"prompt", "metric", "unit", "choices", "tolerance"}
CHOICE_FIELDS = {"id", "text", "correct", "explanation"}
NEXT_FIELDS = {"preset", "why"}
# A dotted path into the run summary, as lab questions name metrics: `by_mode.sync.success_rate_pct`.
METRIC_PATH = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")
CHOICE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,15}$")
MIN_CHOICES, MAX_CHOICES = 2, 6


@dataclass(frozen=True)
class PredictChoice:
    id: str
    text: str
    correct: bool
    explanation: str


@dataclass(frozen=True)
class Predict:
    """Either choices with exactly one correct, or a number judged within `tolerance` of the run's `metric`."""

    prompt: str
    metric: str  # the summary figure the debrief shows as the result
    unit: str = ""
    choices: tuple[PredictChoice, ...] = ()
    tolerance: float | None = None

    @property
    def kind(self) -> str:
        return "choice" if self.choices else "number"

    def choice(self, choice_id: str) -> PredictChoice | None:
        return next((c for c in self.choices if c.id == choice_id), None)

    def as_json(self, *, answers: bool = False) -> dict[str, Any]:
        """The question as the page asks it; with `answers`, also which choice is right and why (revealed once the
        learner has committed to a prediction, or skipped it)."""
        found: dict[str, Any] = {"kind": self.kind, "prompt": self.prompt, "metric": self.metric, "unit": self.unit}
        if self.choices:
            found["choices"] = [
                {"id": c.id, "text": c.text} | ({"correct": c.correct, "explanation": c.explanation} if answers else {})
                for c in self.choices
            ]
        else:
            found["tolerance"] = self.tolerance
        return found


@dataclass(frozen=True)
class NextPreset:
    preset: str
    why: str

    def as_json(self) -> dict[str, Any]:
        return {"preset": self.preset, "why": self.why}


def without_answers(document: Mapping[str, Any]) -> dict[str, Any]:
    """A topology document as it is served to learners: every preset's `predict` left out, so which choice is right
    (and why) stays hidden until the learner has predicted. The question itself is served without its answers as
    the preset's own `predict`; a document without predictions still parses, so a learner may post it back."""
    presets = document.get("presets")
    if not isinstance(presets, list):
        return dict(document)
    served = [{k: v for k, v in p.items() if k != "predict"} if isinstance(p, Mapping) else p for p in presets]
    return {**document, "presets": served}


def metric_value(summary: Mapping[str, Any] | None, path: str) -> float | None:
    """`by_mode.sync.success_rate_pct` → summary["by_mode"]["sync"]["success_rate_pct"], or None."""
    value: Any = summary
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def judge(predict: Predict, answer: Any, summary: Mapping[str, Any] | None) -> bool | None:
    """Whether a prediction was right: a choice by the document; a number against the run's figure (None when
    there is no run, or the run did not record the metric)."""
    if predict.kind == "choice":
        chosen = predict.choice(str(answer))
        return bool(chosen and chosen.correct)
    observed = metric_value(summary, predict.metric)
    if observed is None or isinstance(answer, bool) or not isinstance(answer, int | float):
        return None
    return abs(float(answer) - observed) <= (predict.tolerance or 0.0) + 1e-9 * max(1.0, abs(observed))


def parse_predict(check: _Checker, raw: Any, path: str) -> Predict | None:
    """A preset's `predict`: a prompt and a metric, then `choices` (exactly one correct) or `tolerance` + `unit`."""
    if raw is None:
        return None
    spec = check.mapping(raw, path)
    if not spec:
        return None
    check.unknown(spec, PREDICT_FIELDS, path)
    prompt = check.text(spec, "prompt", path, limit=400)
    metric = spec.get("metric")
    if not isinstance(metric, str) or not METRIC_PATH.match(metric):
        check.fail(f"{path}.metric", "must be a dotted path into the run summary, e.g. by_mode.sync.success_rate_pct")
        metric = ""
    unit = check.text(spec, "unit", path, default="", limit=20)
    if "choices" in spec and "tolerance" in spec:
        check.fail(path, "give either choices or a tolerance (a number to predict), not both")
        return None
    if "choices" not in spec:
        if "tolerance" not in spec:
            check.fail(path, "needs choices (exactly one correct) or a tolerance and unit for a number")
            return None
        tolerance = check.number(spec, "tolerance", path, default=0.0, low=0, high=1e9)
        if not unit:
            check.fail(f"{path}.unit", "is required for a number to predict")
        return Predict(prompt=prompt, metric=metric, unit=unit, tolerance=tolerance)
    return Predict(prompt=prompt, metric=metric, unit=unit, choices=_choices(check, spec["choices"], path))


def _choices(check: _Checker, raw: Any, path: str) -> tuple[PredictChoice, ...]:
    items = check.seq(raw, f"{path}.choices")
    if not MIN_CHOICES <= len(items) <= MAX_CHOICES and isinstance(raw, list):
        check.fail(f"{path}.choices", f"must list {MIN_CHOICES} to {MAX_CHOICES} choices, got {len(items)}")
    choices: list[PredictChoice] = []
    for index, body in enumerate(items):
        where = f"{path}.choices[{index}]"
        spec = check.mapping(body, where)
        check.unknown(spec, CHOICE_FIELDS, where)
        choice_id = spec.get("id")
        if not isinstance(choice_id, str) or not CHOICE_ID.match(choice_id):
            check.fail(f"{where}.id", "must be a short lower-case id: letters, digits, '-' or '_'")
            choice_id = ""
        elif any(c.id == choice_id for c in choices):
            check.fail(f"{where}.id", f"{choice_id!r} is already used by another choice")
        choices.append(
            PredictChoice(
                id=choice_id,
                text=check.text(spec, "text", where, limit=300),
                correct=check.flag(spec, "correct", where, default=False),
                explanation=check.text(spec, "explanation", where, limit=600),
            )
        )
    right = sum(c.correct for c in choices)
    if items and right != 1:
        check.fail(f"{path}.choices", f"must have exactly one correct choice, got {right}")
    return tuple(choices)


def parse_next(check: _Checker, raw: Any, path: str) -> NextPreset | None:
    """A preset's `next`: the preset to try after this one and a one-line why (the preset is checked by
    `check_next` once every preset is known)."""
    if raw is None:
        return None
    spec = check.mapping(raw, path)
    if not spec:
        return None
    check.unknown(spec, NEXT_FIELDS, path)
    preset = check.name(spec.get("preset"), f"{path}.preset")
    return NextPreset(preset=preset, why=check.text(spec, "why", path, limit=200))


def check_next(check: _Checker, slug: str, found: NextPreset | None, path: str, slugs: list[str]) -> None:
    """`next.preset` must name another preset of the same document."""
    if found is None or not found.preset:
        return
    if found.preset == slug:
        check.fail(f"{path}.preset", "names this preset itself; name the one to try after it")
    elif found.preset not in slugs:
        check.fail(f"{path}.preset", f"names no preset of this document; one of {', '.join(slugs)}")
