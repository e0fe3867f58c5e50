"""Real runs on the real worker, judged by the lab-question rules: a full run counts, one stopped early does not."""

from __future__ import annotations

import time

import pytest

from lab import services
from lab.model.catalog import EXPERIMENTS
from quizzes.qualify import qualification_problems
from quizzes.selectors import run_record
from tests.support.lab import start, wait_finished, wait_until_running

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker")]
CHECKOUT = EXPERIMENTS["checkout"].topology
QUICK_TOUR = CHECKOUT.preset("quick-tour")


def test_a_full_run_counts_and_one_stopped_early_is_told_to_run_to_the_end(transactional_db: None) -> None:
    assert QUICK_TOUR is not None
    full = start(preset="quick-tour")
    stopped = start(preset="quick-tour")
    wait_until_running(stopped)
    time.sleep(2)
    services.request_stop(stopped)
    full, stopped = wait_finished(full), wait_finished(stopped)

    assert qualification_problems(run_record(full), topology=CHECKOUT, preset=QUICK_TOUR, metric="latency_ms.p50") == []
    problems = qualification_problems(run_record(stopped), topology=CHECKOUT, preset=QUICK_TOUR)
    assert any(p.startswith("Your latest run of quick-tour stopped at ") for p in problems), problems
    assert all("10 s: run it to the end." in p for p in problems if "stopped at" in p)
