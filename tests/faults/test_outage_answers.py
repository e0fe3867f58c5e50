"""Which errors count as "Redis is unavailable", and what the middleware answers for them (no processes)."""

from __future__ import annotations

import pytest
import redis
from django.test import RequestFactory
from kombu.exceptions import OperationalError

from comms_lab.middleware import RedisUnavailableMiddleware, outage_reason


def wrapped(inner: BaseException, outer: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (redis.ConnectionError("Error 111"), "Redis is unavailable: the lab cannot reach it."),
        (redis.TimeoutError("Timeout reading"), "Redis is unavailable: the lab cannot reach it."),
        (redis.exceptions.BusyLoadingError("LOADING"), "Redis is unavailable: it is loading its data after a restart."),
        (
            redis.exceptions.OutOfMemoryError("OOM command not allowed"),
            "Redis is unavailable: it is full (out of memory) and refuses new data.",
        ),
        (OperationalError("Error 111 connecting"), "Redis is unavailable: the lab cannot reach it."),
        (
            wrapped(redis.ConnectionError("x"), RuntimeError("task not sent")),
            "Redis is unavailable: the lab cannot reach it.",
        ),
        (ValueError("not Redis"), None),
        (ConnectionRefusedError("SMTP"), None),  # another service's connection error is not Redis's
        (redis.ResponseError("WRONGTYPE"), None),  # a bug, not an outage: it stays a 500
    ],
)
def test_what_counts_as_redis_being_unavailable(exc: BaseException, reason: str | None) -> None:
    assert outage_reason(exc) == reason


def test_json_clients_get_503_json_and_browsers_a_page_both_naming_redis(db: None) -> None:
    middleware = RedisUnavailableMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    api = middleware.process_exception(RequestFactory().post("/lab/api/runs"), redis.ConnectionError("down"))
    assert api is not None and api.status_code == 503 and api["Retry-After"] == "5"
    assert api["Content-Type"] == "application/json"
    page = middleware.process_exception(RequestFactory().get("/lab/runs/x/"), redis.ConnectionError("down"))
    assert page is not None and page.status_code == 503 and "text/html" in page["Content-Type"]
    assert (
        "Redis is unavailable" in page.content.decode()
        and "Lessons, quizzes and your progress" in page.content.decode()
    )
    assert middleware.process_exception(RequestFactory().get("/"), KeyError("x")) is None
