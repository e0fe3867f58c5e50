"""The lab-graded questions on the delivery and outbox experiments read metrics their presets really produce, and
what each question's explanation says about the number holds for a run of the preset in full. One seed: arrivals
are evenly spaced and the faults strike every fifth delivery, so the counts do not depend on it (the claims behind
them run on three seeds in test_delivery_claims.py and test_outbox_claims.py)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from quizzes.banks import catalogue
from quizzes.grading import metric_value
from tests.support.engine import run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
QUESTIONS = (
    "idem-lab-duplicate-charges",
    "idem-lab-relay-message-id",
    "bg-lab-ack-before-work",
    "bg-lab-dual-write-crash",
)


def effects(summary: dict[str, Any], mode: str) -> dict[str, int]:
    return summary["effects"]["charged"]["by_mode"][mode]


async def test_each_question_reads_a_number_its_preset_records_and_its_explanation_holds() -> None:
    observed = {}
    for question_id in QUESTIONS:
        question = catalogue().questions[question_id]
        summary, events = await run_preset(question.experiment, question.preset, seed=7)
        observed[question_id] = metric_value(summary, question.metric)
        assert observed[question_id] is not None, question.metric
        if question_id == "idem-lab-duplicate-charges":  # 100 orders, every fifth message twice: 20 double charges
            assert observed[question_id] == 20 == effects(summary, "at_most_once")["repeated"]
            assert effects(summary, "idempotent")["repeated"] == 0
        elif question_id == "idem-lab-relay-message-id":  # as many orders as the relay published more than once
            records = Counter(e["record"] for e in events if e["type"] == "record.published")
            assert observed[question_id] == sum(1 for n in records.values() if n > 1) > 0
        elif question_id == "bg-lab-ack-before-work":  # one in five of 100; none for the consumers acking after
            assert observed[question_id] == 20
            assert effects(summary, "at_least_once")["lost"] == effects(summary, "idempotent")["lost"] == 0
        else:  # one in five dual writes lost; none with the outbox; publishing first orphans as many
            assert observed[question_id] == effects(summary, "dual_write")["expected"] // 5 > 0
            assert effects(summary, "outbox")["lost"] == 0
            assert effects(summary, "publish_first")["orphaned"] == observed[question_id]
