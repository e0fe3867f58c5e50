"""`/metrics` in Prometheus's text format: what an operator watches to know the lab is healthy.

Shared figures (runs, events, broker queue, workers) are read from Redis when scraped, so every web process
reports the same values; request latencies and open sockets are this process's own, as Prometheus expects from
each instance it scrapes. Only loopback and METRICS_ALLOWED_NETWORKS may read it.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import RedisError

from comms_lab.health import live_workers, worker_status
from comms_lab.http import client_address
from comms_lab.redis_client import redis_client, rkey

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

REQUEST_SECONDS = Histogram(
    "comms_lab_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
OPEN_SOCKETS = Gauge("comms_lab_websockets_open", "Run websockets open in this process.", registry=REGISTRY)
SOCKETS_REFUSED = Counter(
    "comms_lab_websockets_refused_total",
    "Run websockets refused for being over their session's cap.",
    registry=REGISTRY,
)


class LabCollector(Collector):
    """Reads the lab's shared state from Redis at each scrape (a handful of O(1) commands)."""

    def collect(self) -> Iterator[Any]:
        try:
            yield from self._from_redis()
            up = 1
        except (RedisError, OSError):
            up = 0
        yield GaugeMetricFamily("comms_lab_redis_up", "1 when Redis answered this scrape.", value=up)

    def _from_redis(self) -> Iterator[Any]:
        pipe = redis_client().pipeline(transaction=False)
        pipe.zcard(rkey("lab", "active", "all"))
        pipe.hvals(rkey("lab", "active", "costs"))
        pipe.get(rkey("lab", "events_logged"))
        pipe.llen(f"{settings.REDIS_KEY_PREFIX}:{settings.CELERY_TASK_DEFAULT_QUEUE}")
        active, costs, events, queued = pipe.execute()
        yield GaugeMetricFamily("comms_lab_lab_active_runs", "Lab runs admitted and not yet saved.", value=active)
        yield GaugeMetricFamily(
            "comms_lab_lab_offered_load", "Engine operations per second the active runs ask for.", value=_total(costs)
        )
        yield GaugeMetricFamily(
            "comms_lab_lab_capacity", "Engine operations per second admission allows.", value=settings.LAB_CAPACITY
        )
        yield CounterMetricFamily(
            "comms_lab_lab_events",
            "Events logged by every run (rate() gives events per second).",
            value=int(events or 0),
        )
        yield GaugeMetricFamily(
            "comms_lab_broker_queue_depth", "Celery messages waiting for a worker on the lab's queue.", value=queued
        )
        yield GaugeMetricFamily(
            "comms_lab_workers_alive", "Workers whose heartbeat is fresh (2 s beat).", value=len(live_workers())
        )
        _, restarting = worker_status()
        yield GaugeMetricFamily(
            "comms_lab_workers_restarting", "Workers make run's supervisor is restarting.", value=len(restarting)
        )


def _total(costs: list[str]) -> float:
    return sum(float(c) for c in costs)


REGISTRY.register(LabCollector())


def allowed(request: HttpRequest) -> bool:
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or any(ip in ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_NETWORKS)


def render() -> bytes:
    return generate_latest(REGISTRY)


CONTENT_TYPE = CONTENT_TYPE_LATEST


class RequestTimingMiddleware:
    """Times every request into REQUEST_SECONDS, labelled by route name (never by raw path: bounded labels)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.view_name if match else "unmatched"
        REQUEST_SECONDS.labels(route, request.method or "", f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started
        )
        return response
