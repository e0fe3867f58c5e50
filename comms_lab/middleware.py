"""Turn an outage of Redis into a 503 that names it, instead of a 500 (or Django's debug page).

The lab keeps its runs, toggles, events and broker queue in Redis; lessons, quizzes and progress live in the
database and keep working. So a view that needs Redis while it is down answers 503 with `Retry-After`: JSON
for the lab's API and JSON clients, a short page in the site's layout for browsers. Nothing is cached, so the
same URL works again as soon as Redis is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import redis
from django.http import HttpRequest, HttpResponse
from django.middleware import common as django_common
from django.middleware.csrf import get_token
from django.template import engines
from django.utils.http import escape_leading_slashes

from comms_lab.http import json_error

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5

_PAGE = """{% extends "base.html" %}{% block title %}The lab is unavailable{% endblock %}
{% block content %}<div class="narrow"><h1>The lab is briefly unavailable</h1>
<p role="alert">{{ problem }} The lab's runs and live updates depend on it. Lessons, quizzes and your progress
still work.</p><p>This page will work again by itself once it is back: try again in a few seconds.</p>
<p><a href="{{ request.get_full_path }}">Try again</a> · <a href="/lessons/">Lessons</a> ·
<a href="/quizzes/">Quizzes</a></p></div>{% endblock %}"""


def outage_reason(exc: BaseException) -> str | None:
    """What is wrong when `exc` (or what caused it) means Redis is unreachable or refusing writes; else None."""
    from kombu.exceptions import OperationalError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, redis.exceptions.OutOfMemoryError):
            return "Redis is unavailable: it is full (out of memory) and refuses new data."
        if isinstance(current, redis.exceptions.BusyLoadingError):
            return "Redis is unavailable: it is loading its data after a restart."
        if isinstance(current, (redis.ConnectionError, redis.TimeoutError, OperationalError)):
            return "Redis is unavailable: the lab cannot reach it."
        current = current.__cause__ or current.__context__
    return None


def wants_json(request: HttpRequest) -> bool:
    return (
        request.path.startswith("/lab/api/")
        or request.content_type == "application/json"
        or "application/json" in request.headers.get("Accept", "")
    )


def redis_unavailable(request: HttpRequest, reason: str) -> HttpResponse:
    if wants_json(request):
        response: HttpResponse = json_error(503, reason, unavailable="redis", retry_after_s=RETRY_AFTER_S)
    else:
        try:
            html = engines["django"].from_string(_PAGE).render({"problem": reason}, request)
        except Exception:  # the layout itself failed: a plain page still beats a 500
            html = f"<!doctype html><title>Unavailable</title><h1>The lab is briefly unavailable</h1><p>{reason}</p>"
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    response["Cache-Control"] = "no-store"
    return response


class RedisUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        reason = outage_reason(exception)
        if reason is None:
            return None
        log.warning("%s %s: %s (%s: %s)", request.method, request.path, reason, type(exception).__name__, exception)
        return redis_unavailable(request, reason)


class CommonMiddleware(django_common.CommonMiddleware):
    """Django's CommonMiddleware, except that a POST to a URL missing its trailing slash gets the same redirect
    with DEBUG on as in production, instead of a RuntimeError (a 500) meant to warn the developer."""

    def get_full_path_with_slash(self, request: HttpRequest) -> str:
        return escape_leading_slashes(request.get_full_path(force_append_slash=True))


class CsrfCookieMiddleware:
    """Every page leaves the browser a `csrftoken` cookie, even one with no form.

    htmx and the pages' scripts send the cookie's value in X-CSRFToken (static/js/csrf.js), so a page without a
    form carries no token and costs no masking per view; a browser without the cookie (a first visit) gets one
    here. Sits just after Django's CsrfViewMiddleware, which then sets the cookie on the response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "CSRF_COOKIE" not in request.META and response.get("Content-Type", "").startswith("text/html"):
            get_token(request)
        return response
