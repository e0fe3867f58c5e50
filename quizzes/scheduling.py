"""Spaced review with FSRS: which rating an answer earns, and when its question comes back.

FSRS models each question's memory (stability, difficulty) from the ratings it gets. A quiz answer has no
"how hard was that?" button, so the rating comes from correctness and the confidence the learner claimed:

    right + high → Easy     right + medium or none → Good     right + low → Hard     wrong → Again

Every wrong answer is rated Again, so FSRS sends the card back to (re)learning. A wrong answer given with
medium or high confidence is a misconception rather than a gap, and those are worth fixing first: such a card
is due again at once (top of the next review), where FSRS would wait a learning step. Pass a fixed `now` and a
scheduler with `enable_fuzzing=False` to get exact, repeatable due dates.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from fsrs import Card, Rating, Scheduler

if TYPE_CHECKING:
    from fsrs.card import CardDict

# Minutes-long steps suit flashcards you flip; a quiz question seen again after a minute is still in view.
LEARNING_STEPS = (timedelta(hours=1), timedelta(days=1))
RELEARNING_STEPS = (timedelta(hours=1),)
CONFIDENT = ("medium", "high")


def make_scheduler(*, fuzzing: bool = True) -> Scheduler:
    return Scheduler(
        learning_steps=LEARNING_STEPS,
        relearning_steps=RELEARNING_STEPS,
        enable_fuzzing=fuzzing,
    )


SCHEDULER = make_scheduler()


def rating_for(*, correct: bool, confidence: str) -> Rating:
    if not correct:
        return Rating.Again
    return {"high": Rating.Easy, "low": Rating.Hard}.get(confidence, Rating.Good)


def new_card_state(card_id: int, now: datetime) -> dict[str, Any]:
    """A fresh card's serialised state; the card id is ours (FSRS would otherwise sleep 1 ms to make one)."""
    return cast(dict[str, Any], Card(card_id=card_id, due=now).to_dict())  # kept as JSON (ReviewCard.state)


def review(
    state: dict[str, Any],
    *,
    correct: bool,
    confidence: str,
    now: datetime,
    scheduler: Scheduler = SCHEDULER,
) -> tuple[dict[str, Any], datetime]:
    """The card's next state and due time after one answer at `now` (timezone-aware, converted to UTC)."""
    card, _log = scheduler.review_card(
        Card.from_dict(cast("CardDict", state)),  # a state new_card_state or review made
        rating_for(correct=correct, confidence=confidence),
        now.astimezone(UTC),
    )
    if not correct and confidence in CONFIDENT:
        card.due = now.astimezone(UTC)
    return cast(dict[str, Any], card.to_dict()), card.due
