"""Schema changes keep every learner's attempts, answers and review cards."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("quizzes", "0001_initial")]
AFTER = [("quizzes", "0002_question_variants")]
AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_adding_question_variants_keeps_attempts_answers_and_cards_as_they_were() -> None:
    try:
        old = migrate(BEFORE).loader.project_state(BEFORE).apps
        attempt = old.get_model("quizzes", "Attempt").objects.create(
            quiz="observability",
            anonymous_id="a" * 32,
            question_ids=["obs-critical-path"],
            layout={"obs-critical-path": []},
            status="finished",
            finished_at=AT,
        )
        old.get_model("quizzes", "Response").objects.create(
            attempt=attempt, question_id="obs-critical-path", step="answer", answer=430, correct=False, created_at=AT
        )
        old.get_model("quizzes", "ReviewCard").objects.create(
            anonymous_id="a" * 32,
            question_id="obs-critical-path",
            state={"card_id": 1},
            due=AT,
            last_review=AT,
            reviews=3,
        )

        new = migrate(AFTER).loader.project_state(AFTER).apps
        kept = new.get_model("quizzes", "Attempt").objects.get(pk=attempt.pk)
        assert (kept.question_ids, kept.finished_at, kept.variants) == (["obs-critical-path"], AT, {})
        answer = new.get_model("quizzes", "Response").objects.get(attempt_id=attempt.pk)
        assert (answer.answer, answer.correct) == (430, False)
        card = new.get_model("quizzes", "ReviewCard").objects.get(question_id="obs-critical-path")
        assert (card.reviews, card.state, card.variant) == (3, {"card_id": 1}, "")  # "" = shown as written
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
