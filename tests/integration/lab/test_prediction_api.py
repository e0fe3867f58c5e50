"""POST and GET /lab/api/predictions: a learner's prediction for a preset, stored before the run, with a 400
naming the field for anything the preset's question cannot take (lab/predictions.py)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from comms_lab.learners import SESSION_KEY
from lab.models import Prediction, Run

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = pytest.mark.django_db
URL = "/lab/api/predictions"


@pytest.fixture
def learner() -> Client:
    client = Client(enforce_csrf_checks=True)
    client.get("/lab/")
    return client


def anonymous_id(client: Client) -> str:
    return str(client.session[SESSION_KEY])


def predict(client: Client, body: dict[str, Any]) -> TestResponse:
    token = client.cookies["csrftoken"].value
    return client.post(URL, json.dumps(body), content_type="application/json", HTTP_X_CSRFTOKEN=token)


def test_a_choice_is_stored_judged_and_answered_with_every_choices_explanation(learner: Client) -> None:
    made = predict(learner, {"experiment": "checkout", "preset": "email-down", "choice": "all"})
    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["answer"], body["correct"]) == ("all", False)
    assert {c["id"]: c["correct"] for c in body["predict"]["choices"]} == {"half": True, "all": False, "none": False}
    assert all(c["explanation"] for c in body["predict"]["choices"])
    listed = learner.get(URL, {"experiment": "checkout", "preset": "email-down"}).json()["predictions"]
    assert [p["id"] for p in listed] == [body["id"]]


def test_a_number_is_stored_unjudged_until_a_run_is_there_to_judge_it(learner: Client) -> None:
    made = predict(learner, {"experiment": "checkout", "preset": "sync-baseline", "value": 1800})
    assert made.status_code == 201
    assert (made.json()["answer"], made.json()["correct"], made.json()["predict"]["tolerance"]) == (1800.0, None, 150)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"experiment": "nope", "preset": "x", "choice": "a"}, "experiment", "must be one of"),
        ({"experiment": "checkout", "preset": "quick-tour", "choice": "a"}, "preset", "that asks a prediction:"),
        ({"experiment": "checkout", "preset": "email-down", "choice": "most"}, "choice", "one of half, all, none"),
        ({"experiment": "checkout", "preset": "email-down", "value": 50}, "value", "send choice (one of half, all"),
        ({"experiment": "checkout", "preset": "sync-baseline", "value": "fast"}, "value", "a finite number in ms"),
        ({"experiment": "checkout", "preset": "sync-baseline", "value": 1e13}, "value", "from -1e12 to 1e12"),
        ({"experiment": "checkout", "preset": "email-down", "choice": "half", "when": 1}, "when", "unknown field"),
    ],
)
def test_a_bad_prediction_is_a_400_naming_the_field_and_stores_nothing(
    learner: Client, body: dict[str, Any], field: str, words: str
) -> None:
    refused = predict(learner, body)
    assert refused.status_code == 400
    assert words in refused.json()["fields"][field]
    assert not Prediction.objects.exists()


def test_listing_needs_a_preset_that_asks_a_prediction(learner: Client) -> None:
    refused = learner.get(URL, {"experiment": "checkout", "preset": "quick-tour"})
    assert refused.status_code == 400 and "preset" in refused.json()["fields"]


def test_a_prediction_without_the_csrf_token_is_refused(learner: Client) -> None:
    body = json.dumps({"experiment": "checkout", "preset": "email-down", "choice": "half"})
    assert learner.post(URL, body, content_type="application/json").status_code == 403
    assert not Prediction.objects.exists()


def test_another_learners_predictions_are_not_listed(learner: Client) -> None:
    predict(learner, {"experiment": "checkout", "preset": "email-down", "choice": "half"})
    other = Client()
    other.get("/lab/")
    listed = other.get(URL, {"experiment": "checkout", "preset": "email-down"}).json()
    assert listed == {"predictions": [], "answers": None}


def test_signing_up_keeps_the_predictions_made_before(learner: Client) -> None:
    predict(learner, {"experiment": "checkout", "preset": "email-down", "choice": "half"})
    password = "a-long-enough-passphrase-42"
    token = learner.cookies["csrftoken"].value
    signed_up = learner.post(
        "/accounts/signup/",
        {"username": "ada", "password1": password, "password2": password, "csrfmiddlewaretoken": token},
    )
    assert signed_up.status_code == 302
    adopted = Prediction.objects.get().user
    assert adopted is not None and adopted.username == "ada"
    listed = learner.get(URL, {"experiment": "checkout", "preset": "email-down"}).json()["predictions"]
    assert [p["answer"] for p in listed] == ["half"]


def explanations(experiments: list[dict[str, Any]]) -> set[str]:
    """Every choice's explanation, as the catalogue knows them (the served JSON must contain none of them)."""
    from lab.model.catalog import EXPERIMENTS

    presets = [p for e in experiments for p in EXPERIMENTS[e["slug"]].presets]
    return {c.explanation for p in presets if p.predict for c in p.predict.choices}


def test_the_experiments_listing_asks_each_question_without_giving_away_its_answer() -> None:
    response = Client().get("/lab/api/experiments")
    experiments = response.json()["experiments"]
    asked = [p["predict"] for e in experiments for p in e["presets"] if (p["predict"] or {}).get("kind") == "choice"]
    assert len(asked) >= 5 and all(set(c) == {"id", "text"} for q in asked for c in q["choices"])
    assert all("predict" not in p for e in experiments for p in e["topology"]["presets"])
    body = response.content.decode()
    assert '"correct"' not in body
    assert not [text for text in explanations(experiments) if json.dumps(text)[1:-1] in body]


def test_the_experiment_page_embeds_the_questions_without_their_answers(learner: Client) -> None:
    page = learner.get("/lab/cascade/").content.decode()
    embedded = json.loads(page.split('<script id="experiment-data" type="application/json">')[1].split("</script>")[0])
    circuit = next(p for p in embedded["presets"] if p["slug"] == "circuit-breaker")
    assert [c["id"] for c in circuit["predict"]["choices"]] == ["several", "once", "never"]
    assert '"correct"' not in page and "trial calls every 5 s" not in page


def test_the_served_document_still_parses_so_a_learner_can_post_it_back() -> None:
    from lab.model.topology import parse_topology

    served = Client().get("/lab/api/experiments").json()["experiments"]
    checkout = next(e for e in served if e["slug"] == "checkout")
    parsed = parse_topology(checkout["topology"], source="served checkout")
    assert [p.slug for p in parsed.presets] == [p["slug"] for p in checkout["presets"]]
    assert all(p.predict is None for p in parsed.presets)


def test_the_answers_are_listed_only_once_the_learner_has_run_the_preset(learner: Client) -> None:
    query = {"experiment": "checkout", "preset": "email-down"}
    assert learner.get(URL, query).json()["answers"] is None
    Run.objects.create(experiment="checkout", preset="hybrid-baseline", config={}, anonymous_id=anonymous_id(learner))
    assert learner.get(URL, query).json()["answers"] is None  # another preset's run reveals nothing here
    Run.objects.create(experiment="checkout", preset="email-down", config={}, anonymous_id=anonymous_id(learner))
    answers = learner.get(URL, query).json()["answers"]
    assert {c["id"]: c["correct"] for c in answers["choices"]} == {"half": True, "all": False, "none": False}
    stranger = Client()
    stranger.get("/lab/")
    assert stranger.get(URL, query).json()["answers"] is None
