"""Every figure a lab question asks the learner to read off the page has a one-line meaning the page shows beside
its name; figures of the constructs the main Numbers table leaves out are matched by pattern."""

from __future__ import annotations

from lab.model.figures import meaning_of
from quizzes.banks import catalogue

# The main Numbers table (static/lab/summary.js ROWS and the by_<class> table) defines the others.
LISTED_WHOLE = ("sagas.", "replies.", "streams.", "effects.", "messages.")


def test_every_lab_question_figure_of_a_listed_construct_has_a_meaning() -> None:
    metrics = {q.metric for q in catalogue().questions.values() if q.type == "lab" and q.metric}
    listed = sorted(m for m in metrics if m.startswith(LISTED_WHOLE))
    assert listed  # the banks do ask for such figures
    assert [m for m in listed if meaning_of(m) is None] == []


def test_a_star_stands_for_one_name_of_the_runs_own_and_nothing_more() -> None:
    assert meaning_of("streams.groups.fulfilment.max_lag") == meaning_of("streams.groups.analytics.max_lag") is not None
    assert meaning_of("streams.groups.fulfilment.by_partitioning.round_robin.out_of_order") is not None
    assert meaning_of("streams.groups.max_lag") is None  # the group's name is missing
    assert meaning_of("sagas.no_such_figure") is None
