"""The lab's pages read only what they show: a first visit writes no session and takes no query; the index lists
every experiment with its presets, then the learner's own runs."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from lab.model.experiments import EXPERIMENTS
from lab.models import Run
from tests.support.lab import new_learner, session_cookie_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/lab/", "/lab/checkout/"])
def test_a_first_visit_to_the_lab_writes_no_session_and_takes_no_query(
    client: Client, django_assert_num_queries: object, path: str
) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert client.get(path).status_code == 200
    assert not Session.objects.exists()


def test_the_index_links_every_experiment_and_each_of_its_presets(client: Client) -> None:
    html = client.get("/lab/").content.decode()
    for experiment in EXPERIMENTS.values():
        assert f'href="/lab/{experiment.slug}/"' in html
        for preset in experiment.presets:
            assert f'href="/lab/{experiment.slug}/?preset={preset.slug}"' in html
    assert "No runs yet" in html


def test_the_index_lists_the_learners_own_runs_and_nobody_elses() -> None:
    learner = new_learner()
    Run.objects.create(experiment="checkout", preset="hybrid-baseline", config={}, anonymous_id=learner.anonymous_id)
    Run.objects.create(experiment="cascade", preset="slow-inventory", config={}, anonymous_id="someone-else")

    html = Client(HTTP_COOKIE=session_cookie_for(learner)).get("/lab/").content.decode()

    assert "checkout · hybrid-baseline" in html
    assert "cascade · slow-inventory" not in html
    assert "No runs yet" not in html


def test_a_shared_run_opened_without_cookies_shows_the_run_and_writes_no_session(client: Client) -> None:
    run = Run.objects.create(
        experiment="checkout", preset="hybrid-baseline", config={"duration": 5}, anonymous_id="its-owner"
    )

    shared = client.get(f"/lab/runs/{run.id}/?share={run.share_token}")
    guessed = client.get(f"/lab/runs/{run.id}/")

    assert shared.status_code == 200 and str(run.id) in shared.content.decode()
    assert guessed.status_code == 404  # a stranger without the share link sees nothing
    assert not Session.objects.exists()


def test_a_returning_learners_index_takes_no_query_until_one_of_their_runs_changes(
    django_assert_num_queries: object,
) -> None:
    learner = new_learner()
    Run.objects.create(experiment="checkout", preset="hybrid-baseline", config={}, anonymous_id=learner.anonymous_id)
    client = Client(HTTP_COOKIE=session_cookie_for(learner))
    client.get("/lab/")

    with django_assert_num_queries(0):  # type: ignore[operator]
        again = client.get("/lab/").content.decode()
    Run.objects.create(experiment="cascade", preset="slow-inventory", config={}, anonymous_id=learner.anonymous_id)
    after_a_new_run = client.get("/lab/").content.decode()

    assert "checkout · hybrid-baseline" in again
    assert "cascade · slow-inventory" in after_a_new_run
