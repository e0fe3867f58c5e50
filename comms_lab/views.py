"""Site-wide pages: home, health, and JSON-aware CSRF failures (the progress page lives in quizzes)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.timesince import timesince
from django.views.csrf import csrf_failure as html_csrf_failure
from django.views.decorators.cache import never_cache

from comms_lab import metrics as operations_metrics
from comms_lab.health import health
from comms_lab.http import json_error
from comms_lab.learners import current_learner
from lab import selectors
from lessons import selectors as lesson_selectors
from lessons.page_cache import render_page


def home(request: HttpRequest) -> HttpResponse:
    """The front page; viewing it writes nothing (a first visit gets no session row). Rendered once per content
    version and what it shows of the learner: the lesson to continue and their recent runs, with their age."""
    learner = current_learner(request)
    runs = selectors.recent_runs(learner) if learner.known else []
    statuses = lesson_selectors.remembered_progress(learner)
    key = (
        tuple((s.status, s.touched_at) for s in statuses),
        tuple((run.id, run.status, timesince(run.created_at)) for run in runs),
    )
    return render_page(request, "home.html", {"recent_runs": runs}, key=key)


def bench_minimal(request: HttpRequest) -> HttpResponse:
    """The benchmarks' baseline: the least a Django view can do, behind the same middleware as every page.
    Routed only when COMMS_LAB_BENCH=1 (bench/pages.py). Plain text, so that it is given no CSRF cookie
    (CsrfCookieMiddleware leaves one on every HTML page)."""
    return HttpResponse("hello", content_type="text/plain")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    status = health()
    return JsonResponse(status, status=200 if all(v == "ok" for v in status.values()) else 503)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus's scrape target; only loopback and METRICS_ALLOWED_NETWORKS may read it."""
    if not operations_metrics.allowed(request):
        return HttpResponse("/metrics is readable only from allowed networks (METRICS_ALLOWED_NETWORKS).\n", status=403)
    return HttpResponse(operations_metrics.render(), content_type=operations_metrics.CONTENT_TYPE)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """JSON clients get a JSON 403 naming the missing piece; pages get Django's usual explanation."""
    if request.path.startswith("/lab/api/") or request.content_type == "application/json":
        return json_error(403, f"CSRF check failed: {reason}. Send the csrftoken cookie's value in X-CSRFToken.")
    return html_csrf_failure(request, reason)
