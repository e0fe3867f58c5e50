"""Generated bad input against the real daphne and worker: 2,000 examples (2,200 requests and frames): API bodies,
`after` values, websocket frames, quiz form posts and path segments (GET and POST). None may get a 5xx, and the
websocket must never be closed by the server. derandomize=True: the same inputs every run."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import Site, reply_to

pytestmark = pytest.mark.integration
FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,  # the same inputs on every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
PARAMS = [
    "duration",
    "rate",
    "seed",
    "mode",
    "email.down",
    "email.latency_ms",
    "payment.error_rate",
    "retry.jitter",
    "retry.max_attempts",
    "timeout.ms",
    "consumer.idempotent",
    "analytics.crash",
    "payment.schedule_n",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(["sync", "hybrid", "", "none", "full", "exponential", "𝟙", "²", "\x00", "1e309"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(PARAMS) | st.text(max_size=12)
deep = st.integers(min_value=30, max_value=3000).map(lambda n: "[" * n + "]" * n)


def dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, default=str)


run_bodies = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "experiment": st.sampled_from(["checkout", "cascade", "", "nope"]) | json_values,
            "preset": st.sampled_from(["email-down", "quick-tour", ""]) | json_values,
            "config": st.dictionaries(keys, json_values, max_size=5) | json_values,
        },
    ).map(dumps),
    json_values.map(dumps),
    deep,
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),
)
toggle_bodies = st.one_of(
    st.fixed_dictionaries({"name": keys | json_values, "value": json_values}).map(dumps),
    st.fixed_dictionaries({"values": st.dictionaries(keys, json_values, max_size=4) | json_values}).map(dumps),
    json_values.map(dumps),
    deep,
)
frames = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["toggle"]), "name": keys | json_values, "value": json_values}).map(
        dumps
    ),
    st.fixed_dictionaries({"type": st.just("toggle"), "values": json_values}).map(dumps),
    st.fixed_dictionaries(
        {"type": st.just("replay"), "after": json_values | st.integers(min_value=2**60, max_value=2**80)}
    ).map(dumps),
    st.fixed_dictionaries({"type": json_values | st.sampled_from(["ping", "nope", ""])}).map(dumps),
    json_values.map(dumps),
    deep,
    st.text(max_size=40),
    st.binary(max_size=40),
)


def assert_not_5xx(response: Any) -> None:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"


@settings(FUZZ, max_examples=500)
@given(body=run_bodies)
def test_run_bodies(site: Site, body: str) -> None:
    response = site.client.post("/lab/api/runs", content=body, headers={"Content-Type": "application/json"})
    assert_not_5xx(response)
    if response.status_code == 201:  # a valid body started a run: stop it at once, keep the lab free
        site.client.post(f"/lab/api/runs/{response.json()['id']}/stop")


@settings(FUZZ, max_examples=400)
@given(body=toggle_bodies)
def test_toggle_bodies(site: Site, body: str) -> None:
    response = site.client.post(
        f"/lab/api/runs/{site.run['id']}/toggles", content=body, headers={"Content-Type": "application/json"}
    )
    assert_not_5xx(response)


@settings(FUZZ, max_examples=250)
@given(after=st.integers(min_value=-(2**70), max_value=2**70).map(str) | st.text(max_size=25))
def test_events_after(site: Site, after: str) -> None:
    assert_not_5xx(site.client.get(f"/lab/api/runs/{site.run['id']}/events", params={"after": after}))


@pytest.fixture
def socket(site: Site) -> Any:
    with site.ws() as ws:
        yield ws


@settings(FUZZ, max_examples=450)
@given(frame=frames)
def test_websocket_frames(socket: Any, frame: str | bytes) -> None:
    for reply in reply_to(socket, frame):  # raises if the server closed the socket
        assert reply.get("code", 400) < 500, reply


form_values = st.lists(
    st.text(max_size=6) | st.sampled_from(["1", "2", "²", "١", "0", "-1", "99999999999999999999"]), max_size=3
)


@settings(FUZZ, max_examples=250)
@given(
    form=st.dictionaries(
        st.sampled_from(["question", "step", "choice", "value", "confidence"])
        | st.text(max_size=12).map(lambda s: f"pos-{s}"),
        form_values,
        max_size=6,
    )
)
def test_quiz_answer_forms(site: Site, form: dict[str, list[str]]) -> None:
    response = site.client.post(site.attempt_url + "/answer", data=form, headers={"HX-Request": "true"})
    assert_not_5xx(response)


PREFIXES = [
    "/lab/runs/{}/",
    "/lab/api/runs/{}",
    "/lab/api/runs/{}/events",
    "/lab/{}/",
    "/lessons/{}/",
    "/quizzes/{}/",
    "/quizzes/attempts/{}/",
    "/glossary/{}/",
]


@settings(FUZZ, max_examples=200)
@given(
    prefix=st.sampled_from(PREFIXES),
    segment=st.text(min_size=1, max_size=40) | st.sampled_from(["..", "%00", "%ff", "x" * 3000, "{}", "urn:uuid:0"]),
)
def test_path_segments(site: Site, prefix: str, segment: str) -> None:
    path = prefix.format(quote(segment, safe="%"))
    assert_not_5xx(site.client.get(path))
    assert_not_5xx(site.client.post(path, content=b"{}", headers={"Content-Type": "application/json"}))
