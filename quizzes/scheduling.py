"""Spaced review with FSRS: which rating an answer earns, and when its question comes back.

FSRS models each question's memory (stability, difficulty) from the ratings it gets. A quiz answer has no
"how hard was that?" button, so the rating comes from correctness and the confidence the learner claimed:

    right + high → Easy     right + medium or none → Good     right + low → Hard     wrong → Again

Every wrong answer is rated Again, so FSRS sends the card back to (re)learning. A wrong answer given with
medium or high confidence is a misconception rather than a gap, and those are worth fixing first: such a card
is due again at once (top of the next review), where FSRS would wait a learning step. Pass a fixed `now` and a
scheduler with `enable_fuzzing=False` to get exact, repeatable due dates.

A question that comes back should test the idea, not the memory of one wording: a review (and a retry of wrong
answers) shows a version of it other than the one the learner answered last, when the bank has variants. And a
retry of wrong answers opens only after a pause, so it tests what stayed rather than the explanations just read.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
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


def next_variant(variant_ids: Sequence[str], *, last_seen: str, rng: random.Random) -> str:
    """A version to show, at random among those other than the one last answered (the only one when there is one)."""
    others = [v for v in variant_ids if v != last_seen]
    return rng.choice(others) if others else last_seen


@dataclass(frozen=True)
class RetryWindow:
    """When a finished attempt's wrong answers may be retried: `delay` after it finished."""

    finished_at: datetime
    delay: timedelta
    now: datetime

    @property
    def opens_at(self) -> datetime:
        return self.finished_at + self.delay

    @property
    def open(self) -> bool:
        return self.now >= self.opens_at

    @property
    def minutes_left(self) -> int:
        """Whole minutes to wait, rounded up, so "in 1 minute" is never too early."""
        return max(0, -(-(self.opens_at - self.now) // timedelta(minutes=1)))

    @property
    def ms_left(self) -> int:
        return max(0, int((self.opens_at - self.now) / timedelta(milliseconds=1)))

    @property
    def delay_minutes(self) -> int:
        return int(self.delay // timedelta(minutes=1))
