"""The lab's experiments: their parameter schemas, presets (with scripted fault schedules) and topologies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lab.model.schema import Param, Schema

FAILURE_SCHEDULES = ("always", "first_n", "every_kth", "for_seconds")


@dataclass(frozen=True)
class ScriptStep:
    """A toggle a preset applies by itself at run second `at`, exactly as a learner's toggle would be."""

    at: float
    values: dict[str, Any]


@dataclass(frozen=True)
class Preset:
    slug: str
    title: str
    notice: str  # the "what to notice" narration shown beside the run
    config: dict[str, Any] = field(default_factory=dict)
    script: tuple[ScriptStep, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "notice": self.notice,
            "config": self.config,
            "script": [{"at": s.at, "values": s.values} for s in self.script],
        }


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    kind: str  # client | service | queue | dlq
    x: float
    y: float


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # sync | async
    modes: tuple[str, ...] = ()  # modes in which the edge carries traffic; empty means all


@dataclass(frozen=True)
class Experiment:
    slug: str
    title: str
    summary: str
    schema: Schema
    presets: tuple[Preset, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    default_preset: str

    def preset(self, slug: str) -> Preset | None:
        return next((p for p in self.presets if p.slug == slug), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "summary": self.summary,
            "default_preset": self.default_preset,
            "presets": [p.as_json() for p in self.presets],
            "parameters": [p.as_json() for p in self.schema.params],
            "topology": {
                "nodes": [vars(n) for n in self.nodes],
                "edges": [
                    {"from": e.source, "to": e.target, "kind": e.kind, "modes": list(e.modes)} for e in self.edges
                ],
            },
        }


def run_params(*, duration: int, rate: float) -> list[Param]:
    return [
        Param("duration", "int", duration, "Duration", 5, 300, unit="s", help="How long new requests arrive."),
        Param("rate", "float", rate, "Request rate", 0.5, 50, unit="requests/s"),
        Param("seed", "int", 42, "Random seed", 0, 2**31 - 1, help="Same seed, same workload and dice rolls."),
    ]


def failure_params(service: str, label: str) -> list[Param]:
    group = f"faults:{service}"
    return [
        Param(f"{service}.down", "bool", False, f"{label} down", live=True, group=group),
        Param(f"{service}.latency_ms", "float", 0.0, "Extra latency", 0, 10000, unit="ms", live=True, group=group),
        Param(f"{service}.jitter_ms", "float", 0.0, "Latency jitter (±)", 0, 5000, unit="ms", live=True, group=group),
        Param(f"{service}.error_rate", "float", 0.0, "Error rate", 0, 1, unit="fraction", live=True, group=group),
        Param(
            f"{service}.crash",
            "choice",
            "none",
            "Crash",
            choices=("none", "before_ack", "after_ack"),
            live=True,
            group=group,
            help="before_ack: the message is redelivered; after_ack: the work is lost.",
        ),
        Param(f"{service}.drop_rate", "float", 0.0, "Drop rate", 0, 1, unit="fraction", live=True, group=group),
        Param(
            f"{service}.duplicate_rate", "float", 0.0, "Duplicate rate", 0, 1, unit="fraction", live=True, group=group
        ),
        Param(f"{service}.reorder", "bool", False, "Reorder", live=True, group=group),
        Param(
            f"{service}.schedule",
            "choice",
            "always",
            "Schedule",
            choices=FAILURE_SCHEDULES,
            live=True,
            group=group,
            help="always; first_n calls; every_kth call; for_seconds from when it was switched on.",
        ),
        Param(f"{service}.schedule_n", "int", 5, "Schedule N / k / seconds", 1, 1000, live=True, group=group),
    ]


def retry_params(*, enabled: bool, max_attempts: int, delay_ms: float, max_delay_ms: float) -> list[Param]:
    group = "policy:retry"
    params = [
        Param("retry.max_attempts", "int", max_attempts, "maxAttempts", 1, 10, live=True, group=group),
        Param("retry.delay_ms", "float", delay_ms, "Initial delay", 0, 10000, unit="ms", live=True, group=group),
        Param(
            "retry.backoff",
            "choice",
            "exponential",
            "Backoff",
            choices=("constant", "linear", "exponential"),
            live=True,
            group=group,
        ),
        Param("retry.multiplier", "float", 2.0, "Multiplier", 1, 10, live=True, group=group),
        Param(
            "retry.jitter",
            "choice",
            "none",
            "Jitter",
            choices=("none", "full", "equal", "decorrelated"),
            live=True,
            group=group,
        ),
        Param("retry.max_delay_ms", "float", max_delay_ms, "Max delay", 0, 60000, unit="ms", live=True, group=group),
    ]
    return [Param("retry.enabled", "bool", enabled, "Retry", live=True, group=group), *params]


CHECKOUT_SERVICES = {
    "payment": ("Payment", 400),
    "inventory": ("Inventory", 200),
    "email": ("Email", 800),
    "warehouse": ("Warehouse", 300),
    "analytics": ("Analytics", 150),
}
CHECKOUT_ASYNC = ("inventory", "email", "warehouse", "analytics")


def _checkout() -> Experiment:
    params: list[Param] = [
        *run_params(duration=60, rate=5),
        Param(
            "mode",
            "choice",
            "sync",
            "Mode",
            choices=("sync", "hybrid", "side_by_side"),
            help="sync calls all five in a row; hybrid pays synchronously and queues the rest; "
            "side_by_side runs both on the same workload.",
        ),
    ]
    for service, (label, ms) in CHECKOUT_SERVICES.items():
        params.append(
            Param(f"{service}_ms", "float", float(ms), f"{label} service time", 0, 5000, unit="ms", group="services")
        )
    for service, (label, _) in CHECKOUT_SERVICES.items():
        params += failure_params(service, label)
    params += [
        Param("timeout.enabled", "bool", False, "Timeout on sync calls", live=True, group="policy:timeout"),
        Param("timeout.ms", "float", 2000.0, "Timeout", 10, 30000, unit="ms", live=True, group="policy:timeout"),
        *retry_params(enabled=True, max_attempts=3, delay_ms=200, max_delay_ms=5000),
        Param(
            "consumer.idempotent",
            "bool",
            True,
            "Idempotent consumers",
            live=True,
            group="policy:consumer",
            help="Consumers remember processed message ids and skip duplicates.",
        ),
    ]
    presets = (
        Preset(
            "sync-baseline",
            "Sync chain, healthy",
            "Each checkout waits for all five services in a row: "
            "watch the median settle near 400+200+800+300+150 = 1,850 ms.",
            {"mode": "sync", "duration": 30, "rate": 2},
        ),
        Preset(
            "hybrid-baseline",
            "Hybrid, healthy",
            "Only payment is on the critical path: the median drops to "
            "about 400 ms plus the time to publish four messages, while the queues absorb the rest.",
            {"mode": "hybrid", "duration": 30, "rate": 2},
        ),
        Preset(
            "email-down",
            "Email goes down for 15 s",
            "Email is down from second 5 to 20. Sync checkouts fail "
            "while it is down; hybrid checkouts keep succeeding, the email queue grows, then drains to zero "
            "once email is back, each message processed once.",
            {"mode": "side_by_side", "duration": 35, "rate": 2},
            (ScriptStep(5, {"email.down": True}), ScriptStep(20, {"email.down": False})),
        ),
        Preset(
            "side-by-side",
            "Sync and hybrid side by side",
            "Both modes get the same requests at the same "
            "moments. Compare their latency percentiles and throughput on the charts.",
            {"mode": "side_by_side", "duration": 30, "rate": 2},
        ),
        Preset(
            "quick-tour",
            "Quick tour (10 s)",
            "A short hybrid run: the payment call is synchronous, "
            "the other four services get their work through queues.",
            {"mode": "hybrid", "duration": 10, "rate": 5},
        ),
    )
    nodes = [
        Node("client", "Client", "client", 0.06, 0.5),
        Node("order", "Order", "service", 0.3, 0.5),
        Node("payment", "Payment", "service", 0.9, 0.08),
    ]
    edges = [Edge("client", "order", "sync"), Edge("order", "payment", "sync")]
    for row, service in enumerate(CHECKOUT_ASYNC):
        y = 0.3 + row * 0.2
        label = CHECKOUT_SERVICES[service][0]
        nodes.append(Node(service, label, "service", 0.9, y))
        nodes.append(Node(f"q.{service}", f"{label} queue", "queue", 0.62, y))
        edges += [
            Edge("order", service, "sync", ("sync",)),
            Edge("order", f"q.{service}", "async", ("hybrid",)),
            Edge(f"q.{service}", service, "async", ("hybrid",)),
        ]
    nodes.append(Node("dlq", "Dead letters", "dlq", 0.62, 0.08))
    return Experiment(
        slug="checkout",
        title="Checkout: sync chain vs hybrid",
        summary="An order service calls payment, inventory, email, warehouse and analytics. Call them all in a "
        "row, or pay synchronously and queue the rest, then break email and compare.",
        schema=Schema(tuple(params)),
        presets=presets,
        nodes=tuple(nodes),
        edges=tuple(edges),
        default_preset="sync-baseline",
    )


def _cascade() -> Experiment:
    params: list[Param] = [
        *run_params(duration=60, rate=20),
        Param(
            "arrival",
            "choice",
            "uniform",
            "Arrivals",
            choices=("uniform", "poisson", "burst"),
            help="burst sends each second's requests at the same instant, like clients on a shared timer.",
        ),
        Param(
            "browse_share",
            "float",
            0.5,
            "Share of browse requests",
            0,
            1,
            unit="fraction",
            help="Browse requests only touch the gateway; checkouts go gateway → orders → inventory.",
        ),
        Param("gateway_pool", "int", 20, "Gateway pool size", 1, 200, unit="threads", group="services"),
        Param("orders_pool", "int", 10, "Orders pool size", 1, 200, unit="threads", group="services"),
        Param("inventory_pool", "int", 10, "Inventory pool size", 1, 200, unit="threads", group="services"),
        Param("browse_ms", "float", 20.0, "Browse service time", 0, 5000, unit="ms", group="services"),
        Param("orders_ms", "float", 20.0, "Orders service time", 0, 5000, unit="ms", group="services"),
        Param("inventory_ms", "float", 50.0, "Inventory service time", 0, 5000, unit="ms", group="services"),
        *failure_params("inventory", "Inventory"),
        *failure_params("orders", "Orders"),
        Param("timeout.enabled", "bool", False, "Timeout", live=True, group="policy:timeout"),
        Param("timeout.ms", "float", 500.0, "timeoutDuration", 10, 30000, unit="ms", live=True, group="policy:timeout"),
        *retry_params(enabled=False, max_attempts=3, delay_ms=500, max_delay_ms=8000),
        Param("breaker.enabled", "bool", False, "Circuit breaker", live=True, group="policy:breaker"),
        Param(
            "breaker.mode",
            "choice",
            "rate",
            "Breaker mode",
            choices=("rate", "consecutive"),
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.sliding_window_type",
            "choice",
            "count",
            "slidingWindowType",
            choices=("count", "time"),
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.sliding_window_size",
            "int",
            20,
            "slidingWindowSize",
            1,
            1000,
            unit="calls or s",
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.failure_rate_threshold",
            "float",
            50.0,
            "failureRateThreshold",
            1,
            100,
            unit="%",
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.minimum_number_of_calls",
            "int",
            10,
            "minimumNumberOfCalls",
            1,
            1000,
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.slow_call_duration_threshold_ms",
            "float",
            1000.0,
            "slowCallDurationThreshold",
            1,
            60000,
            unit="ms",
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.slow_call_rate_threshold",
            "float",
            100.0,
            "slowCallRateThreshold",
            1,
            100,
            unit="%",
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.wait_duration_in_open_state_ms",
            "float",
            5000.0,
            "waitDurationInOpenState",
            100,
            120000,
            unit="ms",
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.permitted_number_of_calls_in_half_open_state",
            "int",
            3,
            "permittedNumberOfCallsInHalfOpenState",
            1,
            100,
            live=True,
            group="policy:breaker",
        ),
        Param(
            "breaker.consecutive_failures",
            "int",
            5,
            "Consecutive failures to open",
            1,
            1000,
            live=True,
            group="policy:breaker",
        ),
        Param(
            "bulkhead.enabled",
            "bool",
            False,
            "Bulkhead for checkout",
            live=True,
            group="policy:bulkhead",
            help="Checkouts may use only maxConcurrentCalls of the gateway's threads; browse keeps the rest.",
        ),
        Param("bulkhead.max_concurrent", "int", 8, "maxConcurrentCalls", 1, 200, live=True, group="policy:bulkhead"),
    ]
    slow = (ScriptStep(5, {"inventory.latency_ms": 3000.0}), ScriptStep(30, {"inventory.latency_ms": 0.0}))
    outage = (ScriptStep(8, {"inventory.down": True}), ScriptStep(22, {"inventory.down": False}))
    waves = (
        ScriptStep(4, {"inventory.down": True}),
        ScriptStep(6, {"inventory.down": False}),
        ScriptStep(14, {"inventory.down": True}),
        ScriptStep(16, {"inventory.down": False}),
    )
    retry = {"retry.enabled": True, "retry.max_attempts": 4, "retry.delay_ms": 500.0, "retry.backoff": "exponential"}
    presets = (
        Preset(
            "slow-inventory",
            "Slow inventory, no defences",
            "Inventory slows to 3 s at second 5. Orders' "
            "threads wait on it, then the gateway's do, and even browse requests, which never touch inventory, "
            "start failing: the failure has cascaded.",
            {"duration": 40},
            slow,
        ),
        Preset(
            "timeouts",
            "Add a timeout",
            "Same slowdown with a 500 ms timeout: callers give up and free their "
            "threads, so the gateway survives, but inventory's own pool stays full of abandoned work.",
            {"duration": 40, "timeout.enabled": True},
            slow,
        ),
        Preset(
            "retries-no-jitter",
            "Retries without jitter",
            "Requests arrive in bursts and inventory blips "
            "twice. Every failed request retries after exactly 0.5, 1 and 2 s, so retries land in synchronized "
            "waves on the inventory-calls chart.",
            {"duration": 30, "arrival": "burst", **retry},
            waves,
        ),
        Preset(
            "retries-full-jitter",
            "Retries with full jitter",
            "Same bursts and blips, but each retry waits a "
            "random time between zero and its backoff: the waves flatten into a low, even load.",
            {"duration": 30, "arrival": "burst", **retry, "retry.jitter": "full"},
            waves,
        ),
        Preset(
            "circuit-breaker",
            "Circuit breaker",
            "Inventory is down from second 8 to 22. The breaker opens "
            "once half of the last calls failed, then no call reaches inventory while it is open; after 5 s it "
            "half-opens, lets 3 trial calls through, and closes once inventory is back.",
            {"duration": 35, "breaker.enabled": True},
            outage,
        ),
        Preset(
            "bulkhead",
            "Bulkhead",
            "Inventory slows down again, but checkouts may hold only 8 of the "
            "gateway's 20 threads: browse requests keep succeeding while checkouts fail.",
            {"duration": 40, "bulkhead.enabled": True},
            slow,
        ),
        Preset(
            "all-defences",
            "All defences",
            "Timeout, jittered retries, breaker and bulkhead together. Compare "
            "goodput and retry amplification with the undefended run.",
            {
                "duration": 40,
                "timeout.enabled": True,
                "breaker.enabled": True,
                "bulkhead.enabled": True,
                **retry,
                "retry.jitter": "full",
            },
            slow,
        ),
    )
    nodes = (
        Node("client", "Clients", "client", 0.06, 0.5),
        Node("gateway", "Gateway", "service", 0.32, 0.5),
        Node("browse", "Catalog", "service", 0.6, 0.15),
        Node("orders", "Orders", "service", 0.6, 0.6),
        Node("inventory", "Inventory", "service", 0.9, 0.6),
    )
    edges = (
        Edge("client", "gateway", "sync"),
        Edge("gateway", "browse", "sync"),
        Edge("gateway", "orders", "sync"),
        Edge("orders", "inventory", "sync"),
    )
    return Experiment(
        slug="cascade",
        title="Cascading failure and resilience",
        summary="Gateway → orders → inventory, each with a bounded thread pool. Slow inventory down, watch the "
        "failure climb upstream, then add timeouts, retries, a circuit breaker and a bulkhead.",
        schema=Schema(tuple(params)),
        presets=presets,
        nodes=nodes,
        edges=edges,
        default_preset="slow-inventory",
    )


EXPERIMENTS: dict[str, Experiment] = {e.slug: e for e in (_checkout(), _cascade())}
DEFAULT_EXPERIMENT = "checkout"
DEFAULT_PRESET = "quick-tour"
