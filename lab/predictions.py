"""Predictions made on the lab page: recording one (checked against the preset's `predict`), reading them back,
and finding the one a quiz's lab question may credit. The question itself is data (lab/model/predictions.py)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.db.models import Q

from comms_lab.http import BadRequest
from comms_lab.learners import Learner
from lab.model.experiments import EXPERIMENTS
from lab.model.predictions import Predict
from lab.models import Prediction, Run

PREDICTION_FIELDS = {"experiment", "preset", "choice", "value"}


def _owned_by(learner: Learner) -> Q:
    if learner.user_id:
        return Q(user_id=learner.user_id)
    return Q(user__isnull=True, anonymous_id=learner.anonymous_id)


def predict_of(experiment: str, preset: str) -> Predict | None:
    chosen = EXPERIMENTS.get(experiment)
    found = chosen.preset(preset) if chosen else None
    return found.predict if found else None


def checked_preset(experiment: Any, preset: Any) -> tuple[str, str, Predict]:
    """The experiment and preset named, if that preset asks a prediction; else a 400 naming the field."""
    if not isinstance(experiment, str) or experiment not in EXPERIMENTS:
        raise BadRequest({"experiment": f"must be one of {', '.join(EXPERIMENTS)}"})
    chosen = EXPERIMENTS[experiment]
    asking = [p.slug for p in chosen.presets if p.predict is not None]
    found = chosen.preset(preset) if isinstance(preset, str) else None
    if found is None or found.predict is None:
        raise BadRequest({"preset": f"must be a preset of {experiment} that asks a prediction: {', '.join(asking)}"})
    return experiment, found.slug, found.predict


def _answer(predict: Predict, data: dict[str, Any]) -> str | float:
    if predict.kind == "choice":
        ids = ", ".join(c.id for c in predict.choices)
        if "value" in data:
            raise BadRequest({"value": f"this prediction is a choice; send choice (one of {ids})"})
        if predict.choice(str(data.get("choice"))) is None or not isinstance(data.get("choice"), str):
            raise BadRequest({"choice": f"must be one of {ids}"})
        return str(data["choice"])
    if "choice" in data:
        raise BadRequest({"choice": f"this prediction is a number in {predict.unit}; send value"})
    value = data.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest({"value": f"must be a finite number in {predict.unit}, from -1e12 to 1e12"})
    if abs(value) > 1e12:
        raise BadRequest({"value": f"must be a finite number in {predict.unit}, from -1e12 to 1e12"})
    return float(value)


def record(*, learner: Learner, data: dict[str, Any]) -> Prediction:
    """Store the learner's answer to a preset's prediction question; a choice is judged at once."""
    unknown = sorted(set(data) - PREDICTION_FIELDS)
    if unknown:
        raise BadRequest({name: f"unknown field; allowed: {', '.join(sorted(PREDICTION_FIELDS))}" for name in unknown})
    experiment, preset, predict = checked_preset(data.get("experiment"), data.get("preset"))
    answer = _answer(predict, data)
    choice = predict.choice(answer) if isinstance(answer, str) else None
    return Prediction.objects.create(
        user_id=learner.user_id,
        anonymous_id="" if learner.user_id else learner.anonymous_id,
        experiment=experiment,
        preset=preset,
        answer=answer,
        correct=choice.correct if choice else None,
    )


def as_json(prediction: Prediction) -> dict[str, Any]:
    """The prediction with its question's answers revealed: the learner has committed, so the debrief may say why."""
    predict = predict_of(prediction.experiment, prediction.preset)
    return {
        "id": prediction.pk,
        "experiment": prediction.experiment,
        "preset": prediction.preset,
        "answer": prediction.answer,
        "correct": prediction.correct,
        "created_at": prediction.created_at.isoformat(),
        "predict": predict.as_json(answers=True) if predict else None,
    }


def answers_once_run(learner: Learner, *, experiment: str, preset: str) -> dict[str, Any] | None:
    """The preset's question with which choice is right and why, once the learner has run the preset: a debrief
    without a prediction can then still explain the result. None before (answers are never served up front)."""
    predict = predict_of(experiment, preset)
    if predict is None or not learner.known:
        return None
    ran = Run.objects.filter(_owned_by(learner), experiment=experiment, preset=preset).exists()
    return predict.as_json(answers=True) if ran else None


def predictions_of(learner: Learner, *, experiment: str, preset: str, limit: int = 20) -> list[Prediction]:
    if not learner.known:
        return []
    found = Prediction.objects.filter(_owned_by(learner), experiment=experiment, preset=preset)
    return list(found.order_by("-created_at", "-id")[:limit])


def latest_before(learner: Learner, *, experiment: str, preset: str, before: datetime | None) -> Prediction | None:
    """The prediction that was made for a run starting at `before`: the learner's latest one made before it."""
    found = Prediction.objects.filter(_owned_by(learner), experiment=experiment, preset=preset)
    if before is not None:
        found = found.filter(created_at__lt=before)
    return found.order_by("-created_at", "-id").first()


def first_blind(learner: Learner, *, experiment: str, preset: str) -> Prediction | None:
    """The learner's first prediction for the preset, if no run of it came before: the only one made without the
    answers in view, since predicting (and running) reveals them. Only it can earn a quiz's prediction point."""
    owned = Prediction.objects.filter(_owned_by(learner), experiment=experiment, preset=preset)
    first = owned.order_by("created_at", "id").first()
    if first is None:
        return None
    ran_before = Run.objects.filter(
        _owned_by(learner), experiment=experiment, preset=preset, created_at__lt=first.created_at
    ).exists()
    return None if ran_before else first


def adopt(anonymous_id: str, user_id: int) -> None:
    """Predictions made before signing in become the account's, as runs do."""
    Prediction.objects.filter(anonymous_id=anonymous_id, user__isnull=True).update(user_id=user_id)
