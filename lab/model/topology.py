"""Topology documents: an experiment written as data (services, links, behaviours, workload, presets, view) and
checked on load, with every error naming the document, the element and the field.

A document is plain YAML or JSON (see docs/topology.md). `parse_topology` turns it into the typed `Topology` the
engine interprets, the parameter `Schema` learners fill in, and the diagram and view spec the page draws.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lab.model.predictions import NextPreset, Predict, check_next, parse_next, parse_predict
from lab.model.routing import check_binding, parse_filter
from lab.model.schema import Param, ParamError, Schema

MAX_SERVICES = 12
MAX_LINKS = 24
MAX_PARTITIONS = 8
# How a send over a stream picks its partition: by a hash of its key, or round-robin (a record sent without a key).
PARTITION_BY = ("key", "round_robin")
MAX_STEPS = 40
MAX_DEPTH = 6  # nesting of steps inside workflows and reactions
MAX_WORK_KNOB_MS = 5000  # the range of a service-time knob (work_param)
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
NODE_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,39}$")
FAILURE_SCHEDULES = ("always", "first_n", "every_kth", "for_seconds")

LinkKind = Literal["call", "queue", "topic", "stream", "reply"]
LINK_KINDS: tuple[str, ...] = ("call", "queue", "topic", "stream", "reply")
POLICY_KINDS = ("timeout", "retry", "breaker", "bulkhead", "idempotency")
STEP_KINDS = ("call", "send", "request", "reply", "work", "fail", "emit", "saga", "aggregate", "outbox", "project")
# When a consumer acknowledges a message: after its work (at-least-once) or before it (at-most-once).
ACK_MODES = ("after_work", "before_work")
# What an idempotent consumer remembers a message by: the broker's message id, or the order it is about.
IDEMPOTENCY_KEYS = ("message_id", "correlation_id")


def _ref(value: Any) -> Any:
    """A name a document refers to, as written; a list or mapping in its place becomes its text, so looking it up
    reports "names no ..." instead of failing on an unhashable value."""
    return value if value is None or isinstance(value, str | int | float | bool) else repr(value)


class TopologyError(ValueError):
    """A document is invalid. `errors` maps `element.field` paths to what is wrong there."""

    def __init__(self, source: str, errors: dict[str, str]) -> None:
        detail = "; ".join(f"{path}: {message}" for path, message in errors.items())
        super().__init__(f"{source}: {detail}")
        self.source = source
        self.errors = errors


@dataclass(frozen=True)
class Pool:
    """A service's bounded thread pool: `reject` refuses at once when full, `wait` queues the caller."""

    size: int
    param: str | None
    when_full: Literal["reject", "wait"]


@dataclass(frozen=True)
class Service:
    id: str
    label: str
    kind: Literal["client", "service", "orchestrator"]
    work_ms: float
    work_param: str | None
    jitter_ms: float
    pool: Pool | None
    instances: int
    faults: bool
    steps: tuple[Step, ...]
    on: dict[str, tuple[Step, ...]]
    at: tuple[float, float]


@dataclass(frozen=True)
class Subscription:
    id: str
    to: str
    binding: str
    filter: str
    durable: bool  # kept while its subscriber is away, so it catches up; otherwise what is published meanwhile is lost
    subscribed: bool = True  # at the start; False is a late subscriber that joins when a learner subscribes it
    delivery: str = "push"  # push: handed out as it arrives; pull: taken when the consumer polls, every poll_ms
    poll_ms: int = 1000
    at: tuple[float, float] | None = None  # its box on the diagram; beside its topic when left out


@dataclass(frozen=True)
class ConsumerGroup:
    id: str
    to: str


@dataclass(frozen=True)
class Link:
    id: str
    kind: LinkKind
    source: str
    target: str  # the consumer service; for a topic, its publisher's first subscriber is in `subscriptions`
    label: str
    classes: tuple[str, ...]
    timeout: str | None = None
    retry: str | None = None
    breaker: str | None = None
    bulkhead: str | None = None
    idempotency: str | None = None
    max_deliveries: int = 0  # 0: retry policy decides; otherwise dead-letter after this many deliveries
    prefetch: int = 1
    ack: str | None = None  # an ack mode makes the acknowledgement's place a knob, `<link>.ack`
    consumer_knobs: bool = False  # a queue whose consumers a learner scales, slows and breaks live
    subscriptions: tuple[Subscription, ...] = ()
    partitions: int = 1
    key: str = ""
    groups: tuple[ConsumerGroup, ...] = ()
    retention: int = 10_000
    deadline_ms: float = 0.0
    match: str = "correlation_id"  # reply links: how a reply finds its request (MATCH_MODES)
    match_param: str | None = None  # a choice parameter whose live value is `match`
    at: tuple[float, float] | None = None


@dataclass(frozen=True)
class Policy:
    name: str
    kind: str
    defaults: dict[str, Any]


@dataclass(frozen=True)
class Step:
    """One thing a handler does. `kind` picks the meaning of `target` and `options`."""

    kind: str
    target: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    children: tuple[Step, ...] = ()
    compensation: Step | None = None
    path: str = field(default="", compare=False, repr=False)  # where the document wrote it, for error messages


def step_name(step: Step) -> str:
    """What events and the page call a step: its `name`, else the link or event it names, else its kind."""
    return str(step.options.get("name") or step.target or step.kind)


@dataclass(frozen=True)
class RequestClass:
    name: str
    steps: tuple[Step, ...]
    bulkhead: str | None


@dataclass(frozen=True)
class Workload:
    entry: str
    duration: int
    rate: float
    arrival: str
    arrival_param: bool
    group_by: str | None
    classes: tuple[RequestClass, ...]
    select_param: str | None  # a choice param naming one class, or `together` for all of them
    together: str | None
    weights: dict[str, str]  # class → share param; the last class takes what is left
    retry: str | None
    select: dict[str, Any] = field(default_factory=dict)


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
    predict: Predict | None = None  # asked before the run; the debrief sets the answer beside the result
    next: NextPreset | None = None  # what to try after it

    def as_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "notice": self.notice,
            "config": self.config,
            "script": [{"at": s.at, "values": s.values} for s in self.script],
            "predict": self.predict.as_json() if self.predict else None,
            "next": self.next.as_json() if self.next else None,
        }


@dataclass(frozen=True)
class Topology:
    slug: str
    title: str
    summary: str
    services: dict[str, Service]
    links: dict[str, Link]
    policies: dict[str, Policy]
    workload: Workload
    presets: tuple[Preset, ...]
    default_preset: str
    invariants: tuple[dict[str, Any], ...]
    view: dict[str, Any]
    dead_letters: tuple[str, tuple[float, float]] | None
    document: dict[str, Any]
    schema: Schema
    order: int = 100  # place in the lab's list; the first is where a new learner starts

    def preset(self, slug: str) -> Preset | None:
        return next((p for p in self.presets if p.slug == slug), None)

    def queues(self) -> list[str]:
        """Every node that holds waiting messages: queues and topic subscriptions."""
        names = []
        for link in self.links.values():
            if link.kind in ("queue", "reply"):
                names.append(link.id)
            names += [s.id for s in link.subscriptions]
        return names

    def scalable_queues(self) -> dict[str, tuple[str, Link, str]]:
        return scalable_queues(self.links, self.services)

    def pools(self) -> list[str]:
        names = [s.id for s in self.services.values() if s.pool]
        if any(c.bulkhead for c in self.workload.classes):
            names.append("bulkhead")
        return names

    def breaker_targets(self) -> list[str]:
        return sorted({link.target for link in self.links.values() if link.breaker})


# Parsing


class _Checker:
    """Collects every problem in a document, each under its `element.field` path."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}
        self.kindless: set[str] = set()  # links written without a kind: steps are not checked against a guess

    def fail(self, path: str, message: str) -> None:
        self.errors.setdefault(path, message)

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(path, f"must be a mapping, got {type(value).__name__}")
            return {}
        return value

    def seq(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {type(value).__name__}")
            return []
        return value

    def text(self, data: dict[str, Any], key: str, path: str, *, default: str | None = None, limit: int = 600) -> str:
        value = data.get(key, default)
        if value is None:
            self.fail(f"{path}.{key}", "is required")
            return ""
        if not isinstance(value, str) or len(value) > limit:
            self.fail(f"{path}.{key}", f"must be text of at most {limit} characters")
            return ""
        return value

    def number(
        self, data: dict[str, Any], key: str, path: str, *, default: float, low: float, high: float, whole: bool = False
    ) -> float:
        value = data.get(key, default)
        kind = "a whole number" if whole else "a number"
        bad = isinstance(value, bool) or not isinstance(value, int | float)
        if not bad and whole and float(value) != int(value):
            bad = True
        if bad or not low <= value <= high:
            self.fail(f"{path}.{key}", f"must be {kind} from {low:g} to {high:g}, got {value!r}")
            return default
        return int(value) if whole else float(value)

    def choice(self, data: dict[str, Any], key: str, path: str, choices: tuple[str, ...], default: str) -> str:
        value = data.get(key, default)
        if value not in choices:
            self.fail(f"{path}.{key}", f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return str(value)

    def flag(self, data: dict[str, Any], key: str, path: str, *, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.fail(f"{path}.{key}", f"must be true or false, got {value!r}")
            return default
        return value

    def name(self, value: Any, path: str, pattern: re.Pattern[str] = NAME) -> str:
        if not isinstance(value, str) or not pattern.match(value):
            self.fail(path, "must be a lower-case name: letters, digits, '-' or '_', starting with a letter")
            return ""
        return value

    def point(self, data: dict[str, Any], path: str) -> tuple[float, float] | None:
        value = data.get("at")
        if value is None:
            return None
        ok = isinstance(value, list) and len(value) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1 for v in value)
        if not ok:
            self.fail(f"{path}.at", "must be [x, y] with both between 0 and 1")
            return None
        return (float(value[0]), float(value[1]))

    def unknown(self, data: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in sorted(set(data) - allowed, key=str):  # YAML keys may be numbers or booleans too
            if key is True and "on" in allowed:
                self.fail(f"{path}.on", 'write "on" in quotes: YAML reads a bare on as true')
                continue
            self.fail(f"{path}.{key}", f"unknown field; allowed: {', '.join(sorted(allowed))}")


SERVICE_FIELDS = {
    "label",
    "kind",
    "work_ms",
    "work_param",
    "jitter_ms",
    "pool",
    "instances",
    "faults",
    "steps",
    "on",
    "at",
}
LINK_FIELDS = {
    "id",
    "kind",
    "from",
    "to",
    "label",
    "classes",
    "timeout",
    "retry",
    "breaker",
    "bulkhead",
    "idempotency",
    "max_deliveries",
    "prefetch",
    "ack",
    "consumer_knobs",
    "subscriptions",
    "partitions",
    "key",
    "groups",
    "retention",
    "deadline_ms",
    "match",
    "match_param",
    "at",
}
# How a reply link's replies find their request: by the request's id, or the oldest one waiting (no correlation).
MATCH_MODES = ("correlation_id", "arrival_order")
TOP_FIELDS = {
    "slug",
    "title",
    "summary",
    "services",
    "links",
    "policies",
    "workload",
    "parameters",
    "presets",
    "default_preset",
    "invariants",
    "view",
    "dead_letters",
    "planned",
    "order",
}
POLICY_DEFAULTS: dict[str, dict[str, Any]] = {
    "timeout": {"enabled": False, "ms": 2000.0},
    "retry": {
        "enabled": False,
        "max_attempts": 3,
        "delay_ms": 200.0,
        "backoff": "exponential",
        "multiplier": 2.0,
        "jitter": "none",
        "max_delay_ms": 5000.0,
    },
    "breaker": {
        "enabled": False,
        "mode": "rate",
        "sliding_window_type": "count",
        "sliding_window_size": 20,
        "failure_rate_threshold": 50.0,
        "minimum_number_of_calls": 10,
        "slow_call_duration_threshold_ms": 1000.0,
        "slow_call_rate_threshold": 100.0,
        "wait_duration_in_open_state_ms": 5000.0,
        "permitted_number_of_calls_in_half_open_state": 3,
        "consecutive_failures": 5,
    },
    "bulkhead": {"enabled": False, "max_concurrent": 8},
    "idempotency": {"idempotent": True, "key": "message_id", "ttl_ms": 0.0},
}
POOL_FIELDS = {"size", "param", "when_full"}
SUBSCRIPTION_FIELDS = {"id", "to", "binding", "filter", "durable", "subscribed", "delivery", "poll_ms", "at"}
DELIVERIES = ("push", "pull")
GROUP_FIELDS = {"id", "to"}
WORKLOAD_FIELDS = {"entry", "duration", "rate", "arrival", "group_by", "classes", "select", "retry"}
CLASS_FIELDS = {"steps", "bulkhead"}
SELECT_FIELDS = {"param", "label", "default", "together", "help", "weights"}
PRESET_FIELDS = {"slug", "title", "notice", "config", "script", "predict", "next"}
SCRIPT_FIELDS = {"at", "set"}
DEAD_LETTER_FIELDS = {"label", "at"}
INVARIANT_KINDS: tuple[str, ...] = (
    "exactly_once",
    "no_dead_letters",
    "breaker_blocks_calls",
    "every_request_accounted",
    "no_reply_mismatched",
    "no_lost_writes",
)
# Panels beside the charts: `pending_requests` is a live table of one reply link's requests still waiting;
# `projection` shows a stream's event store and the read models its groups project, with their lag and stale reads;
# `consumers` shows what each consumer of a queue with consumer knobs holds and has processed; `dead_letters` lists
# the run's dead letters with a re-drive button. Each kind's link: the kind of link it must name (None: no link).
PANEL_LINKS: dict[str, str | None] = {
    "pending_requests": "reply",
    "projection": "stream",
    "consumers": "queue",
    "dead_letters": None,
}
PANEL_KINDS = tuple(PANEL_LINKS)
PANEL_FIELDS = {"kind", "link"}
CHART_KINDS = (
    "latency",
    "throughput",
    "queue_depth",
    "pool_usage",
    "arrivals",
    "histogram",
    "breaker_lane",
    "retry_waves",
)
# Charts that count events per bucket of `bucket_ms`, and the range a bucket may have.
BUCKET_CHARTS = {"arrivals": 100, "retry_waves": 50}
BUCKET_MS_RANGE = (10, 1000)
# What event streams and projections promise (lab/engine/constructs/streams.py emits the events they read).
INVARIANT_KINDS += ("per_key_order", "projection_converges", "no_stale_reads")
# What sagas promise (lab/engine/constructs/sagas.py emits the events it reads).
INVARIANT_KINDS += ("saga_consistent",)
# What durable subscriptions promise (lab/engine/subscriptions.py emits the events it reads).
INVARIANT_KINDS += ("no_missed_messages",)
# What a consumer's business effect promises (an `emit` step's event, counted per order): `{kind, event}`.
INVARIANT_KINDS += ("effect_once",)


def parse_topology(document: Any, *, source: str = "document") -> Topology:
    """Check a whole document and build its `Topology`; raise `TopologyError` listing every problem."""
    check = _Checker()
    doc = check.mapping(document, "document")
    if not doc:
        raise TopologyError(source, check.errors or {"document": "is empty"})
    check.unknown(doc, TOP_FIELDS, "document")
    slug = check.name(doc.get("slug"), "slug")
    title = check.text(doc, "title", "document", limit=120)
    summary = check.text(doc, "summary", "document", default="")
    check.flag(doc, "planned", "document", default=False)
    order = int(check.number(doc, "order", "document", default=100, low=0, high=1000, whole=True))
    policies = _policies(check, doc.get("policies"))
    services = _services(check, doc.get("services"))
    links = _links(check, doc.get("links"), services, policies)
    _steps_everywhere(check, services, links)
    workload = _workload(check, check.mapping(doc.get("workload"), "workload"), services, links, policies)
    extra_params = _extra_params(check, doc.get("parameters"))
    schema = Schema(
        tuple(
            _params(workload, services, policies, extra_params)
            + queue_params(links, services)
            + stream_params(links, services)
            + subscription_params(links)
            + delivery_params(links, services, workload)
        )
    )
    _unique_params(check, schema, doc)
    _workload_refs(check, workload, links, schema)
    _step_options(check, services, workload, links, policies, schema)
    _match_params(check, links, schema)
    presets = _presets(check, doc.get("presets"), schema)
    default_preset = _ref(doc.get("default_preset", presets[0].slug if presets else ""))
    if (presets or "default_preset" in doc) and default_preset not in {p.slug for p in presets}:
        named = ", ".join(p.slug for p in presets)
        check.fail("default_preset", f"names no preset; one of {named}" if named else "names no preset; there are none")
    invariants = tuple(_invariants(check, doc.get("invariants")))
    view = _view(check, check.mapping(doc.get("view"), "view"), services, links)
    dead = check.mapping(doc.get("dead_letters"), "dead_letters")
    check.unknown(dead, DEAD_LETTER_FIELDS, "dead_letters")
    dead_letters = (str(dead.get("label", "Dead letters")), check.point(dead, "dead_letters") or (0.6, 0.06))
    _no_sync_cycles(check, services, links, workload)
    if check.errors:
        raise TopologyError(source, check.errors)
    return Topology(
        slug=slug,
        title=title,
        summary=summary,
        services=services,
        links=links,
        policies=policies,
        workload=workload,
        presets=tuple(presets),
        default_preset=default_preset,
        invariants=invariants,
        view=view,
        dead_letters=dead_letters if dead or _has_dead_letters(links) else None,
        document=doc,
        schema=schema,
        order=order,
    )


def _match_params(check: _Checker, links: dict[str, Link], schema: Schema) -> None:
    """A reply link's `match_param` must be a choice knob whose every choice is a way of matching."""
    for link in links.values():
        if link.match_param is None:
            continue
        param = schema.by_name.get(link.match_param) if isinstance(link.match_param, str) else None
        if param is None or param.kind != "choice" or set(param.choices) - set(MATCH_MODES):
            check.fail(
                f"links.{link.id}.match_param",
                f"names no choice parameter with choices among {', '.join(MATCH_MODES)}",
            )


def _unique_params(check: _Checker, schema: Schema, doc: dict[str, Any]) -> None:
    """Two knobs with one name would shadow each other: name the later declaration."""
    where: dict[Any, str] = {}
    services = doc.get("services")
    for sid, body in services.items() if isinstance(services, dict) else ():
        spec = body if isinstance(body, dict) else {}
        where[_ref(spec.get("work_param"))] = f"services.{sid}.work_param"
        raw_pool = spec.get("pool")
        pool: dict[str, Any] = raw_pool if isinstance(raw_pool, dict) else {}
        where[_ref(pool.get("param"))] = f"services.{sid}.pool.param"
    extra = doc.get("parameters")
    for index, body in enumerate(extra if isinstance(extra, list) else ()):
        where[_ref(body.get("name")) if isinstance(body, dict) else None] = f"parameters[{index}].name"
    seen: set[str] = set()
    for param in schema.params:
        if param.name in seen:
            check.fail(where.get(param.name, "parameters"), f"parameter {param.name!r} is already declared")
        seen.add(param.name)


def _workload_refs(check: _Checker, workload: Workload, links: dict[str, Link], schema: Schema) -> None:
    """Names that point into the workload: a link's classes, the select default, the weights."""
    names = [c.name for c in workload.classes]
    for link in links.values():
        for name in link.classes:
            if name not in names:
                check.fail(
                    f"links.{link.id}.classes", f"{name!r} names no request class; classes are {', '.join(names)}"
                )
    if workload.select_param and "default" in workload.select:
        param = schema.by_name.get(workload.select_param)
        if param is not None and workload.select["default"] not in param.choices:
            check.fail("workload.select.default", f"must be one of {', '.join(param.choices)}")
    for name, share in workload.weights.items():
        param = schema.by_name.get(share)
        if name not in names:
            check.fail(f"workload.select.weights.{name}", f"names no request class; classes are {', '.join(names)}")
        elif param is None or param.kind != "float":
            check.fail(f"workload.select.weights.{name}", f"{share!r} names no float parameter")


def _has_dead_letters(links: dict[str, Link]) -> bool:
    return any(link.kind in ("queue", "topic") for link in links.values())


def _policies(check: _Checker, raw: Any) -> dict[str, Policy]:
    policies = {}
    for name, body in check.mapping(raw, "policies").items():
        path = f"policies.{name}"
        check.name(name, path)
        name = name if isinstance(name, str) else repr(name)  # a key YAML read as a number stays text: names are listed
        data = check.mapping(body, path)
        if "kind" not in data:
            check.fail(f"{path}.kind", f"is required; one of {', '.join(POLICY_KINDS)}")
        kind = check.choice(data, "kind", path, POLICY_KINDS, "timeout")
        defaults = dict(POLICY_DEFAULTS[kind])
        for key, value in data.items():
            if key == "kind":
                continue
            if key not in defaults:
                check.fail(f"{path}.{key}", f"unknown {kind} setting; allowed: {', '.join(defaults)}")
                continue
            expected = type(defaults[key])
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                check.fail(f"{path}.{key}", f"must be {expected.__name__}, got {value!r}")
                continue
            defaults[key] = value
        policy = Policy(name, kind, defaults)
        for param in policy_params(policy):
            setting = param.name.split(".", 1)[1]
            if setting in data and f"{path}.{setting}" not in check.errors:
                try:
                    param.validate(defaults[setting])
                except ParamError as exc:
                    check.fail(f"{path}.{setting}", exc.message)
        policies[name] = policy
    return policies


def _services(check: _Checker, raw: Any) -> dict[str, Service]:
    data = check.mapping(raw, "services")
    if not data:
        check.fail("services", "declare at least one service")
    if len(data) > MAX_SERVICES:
        check.fail("services", f"at most {MAX_SERVICES} services, got {len(data)}")
    services = {}
    for index, (sid, body) in enumerate(data.items()):
        path = f"services.{sid}"
        check.name(sid, path)
        sid = sid if isinstance(sid, str) else repr(sid)
        spec = check.mapping(body, path)
        check.unknown(spec, SERVICE_FIELDS, path)
        pool = None
        if "pool" in spec:
            pool_spec = check.mapping(spec["pool"], f"{path}.pool")
            check.unknown(pool_spec, POOL_FIELDS, f"{path}.pool")
            if "param" in pool_spec:
                check.name(pool_spec["param"], f"{path}.pool.param", NODE_NAME)
            pool = Pool(
                size=int(check.number(pool_spec, "size", f"{path}.pool", default=10, low=1, high=200, whole=True)),
                param=pool_spec["param"] if isinstance(pool_spec.get("param"), str) else None,
                when_full=check.choice(pool_spec, "when_full", f"{path}.pool", ("reject", "wait"), "wait"),  # type: ignore[arg-type]
            )
        if "work_param" in spec:
            check.name(spec["work_param"], f"{path}.work_param", NODE_NAME)
            work = spec.get("work_ms", 0)
            if isinstance(work, int | float) and not isinstance(work, bool) and work > MAX_WORK_KNOB_MS:
                check.fail(f"{path}.work_ms", f"must be at most {MAX_WORK_KNOB_MS} when work_param makes it a knob")
        on = {}
        for event, steps in check.mapping(spec.get("on"), f"{path}.on").items():
            on[str(event)] = tuple(_steps(check, steps, f"{path}.on.{event}", depth=1))
        services[sid] = Service(
            id=sid,
            label=check.text(spec, "label", path, default=sid.replace("_", " ").title(), limit=40),
            kind=check.choice(spec, "kind", path, ("client", "service", "orchestrator"), "service"),  # type: ignore[arg-type]
            work_ms=check.number(spec, "work_ms", path, default=0.0, low=0, high=60_000),
            work_param=spec["work_param"] if isinstance(spec.get("work_param"), str) else None,
            jitter_ms=check.number(spec, "jitter_ms", path, default=0.0, low=0, high=10_000),
            pool=pool,
            instances=int(check.number(spec, "instances", path, default=1, low=1, high=64, whole=True)),
            faults=check.flag(spec, "faults", path, default=False),
            steps=tuple(_steps(check, spec.get("steps"), f"{path}.steps", depth=1)),
            on=on,
            at=check.point(spec, path) or (0.1 + 0.8 * index / max(1, len(data) - 1), 0.5),
        )
    return services


def _links(check: _Checker, raw: Any, services: dict[str, Service], policies: dict[str, Policy]) -> dict[str, Link]:
    items = check.seq(raw, "links")
    if len(items) > MAX_LINKS:
        check.fail("links", f"at most {MAX_LINKS} links, got {len(items)}")
    links: dict[str, Link] = {}
    subscription_ids: set[str] = set()
    for index, body in enumerate(items):
        spec = check.mapping(body, f"links[{index}]")
        raw_id = spec.get("id", f"#{index}")
        lid = raw_id if isinstance(raw_id, str) else repr(raw_id)
        path = f"links.{lid}"
        check.name(raw_id, f"{path}.id", NODE_NAME)
        if lid in links or lid in services or lid in subscription_ids:
            check.fail(f"{path}.id", "is already used by another link, a subscription or a service")
        check.unknown(spec, LINK_FIELDS, path)
        if "kind" not in spec:
            check.fail(f"{path}.kind", f"is required; one of {', '.join(LINK_KINDS)}")
            check.kindless.add(lid)
        kind = check.choice(spec, "kind", path, LINK_KINDS, "call")
        source, target = _ref(spec.get("from")), _ref(spec.get("to"))
        if source not in services:
            check.fail(f"{path}.from", f"names no service; services are {', '.join(services)}")
        if (kind != "topic" or target is not None) and target not in services:
            check.fail(f"{path}.to", f"names no service; services are {', '.join(services)}")
        for slot in ("timeout", "retry", "breaker", "bulkhead", "idempotency"):
            ref = _ref(spec.get(slot))
            if ref is None:
                continue
            policy = policies.get(ref)
            if policy is None:
                check.fail(f"{path}.{slot}", f"names no policy; policies are {', '.join(policies) or 'none'}")
            elif policy.kind != slot:
                check.fail(f"{path}.{slot}", f"policy {ref!r} is a {policy.kind} policy, not a {slot} policy")
        subscriptions = []
        for sub_index, sub in enumerate(check.seq(spec.get("subscriptions"), f"{path}.subscriptions")):
            sub_path = f"{path}.subscriptions[{sub_index}]"
            sub_spec = check.mapping(sub, sub_path)
            check.unknown(sub_spec, SUBSCRIPTION_FIELDS, sub_path)
            sub_id = check.name(sub_spec.get("id"), f"{sub_path}.id", NODE_NAME)
            if sub_id and (sub_id in links or sub_id in services or sub_id in subscription_ids or sub_id == lid):
                check.fail(f"{sub_path}.id", "is already used by another link, a subscription or a service")
            subscription_ids.add(sub_id)
            if _ref(sub_spec.get("to")) not in services:
                check.fail(f"{sub_path}.to", f"names no service; services are {', '.join(services)}")
            text_filter = str(sub_spec.get("filter", ""))
            if text_filter:
                try:
                    parse_filter(text_filter)
                except ValueError as exc:
                    check.fail(f"{sub_path}.filter", str(exc))
            binding = str(sub_spec.get("binding", "#"))
            try:
                check_binding(binding)
            except ValueError as exc:
                check.fail(f"{sub_path}.binding", str(exc))
            subscriptions.append(
                Subscription(
                    id=sub_id,
                    to=str(sub_spec.get("to")),
                    binding=binding,
                    filter=text_filter,
                    durable=check.flag(sub_spec, "durable", sub_path, default=True),
                    subscribed=check.flag(sub_spec, "subscribed", sub_path, default=True),
                    delivery=check.choice(sub_spec, "delivery", sub_path, DELIVERIES, "push"),
                    poll_ms=int(
                        check.number(sub_spec, "poll_ms", sub_path, default=1000, low=100, high=10_000, whole=True)
                    ),
                    at=check.point(sub_spec, sub_path),
                )
            )
        if kind == "topic" and not subscriptions:
            check.fail(f"{path}.subscriptions", "a topic needs at least one subscription")
        groups = []
        for group_index, group in enumerate(check.seq(spec.get("groups"), f"{path}.groups")):
            group_path = f"{path}.groups[{group_index}]"
            group_spec = check.mapping(group, group_path)
            check.unknown(group_spec, GROUP_FIELDS, group_path)
            if _ref(group_spec.get("to")) not in services:
                check.fail(f"{group_path}.to", f"names no service; services are {', '.join(services)}")
            groups.append(
                ConsumerGroup(id=check.name(group_spec.get("id"), f"{group_path}.id"), to=str(group_spec.get("to")))
            )
        if kind == "stream" and not groups:
            check.fail(f"{path}.groups", "a stream needs at least one consumer group")
        classes = check.seq(spec.get("classes"), f"{path}.classes")
        link = Link(
            id=lid,
            kind=kind,  # type: ignore[arg-type]
            source=str(source),
            target=str(target if target is not None else (subscriptions[0].to if subscriptions else "")),
            label=check.text(spec, "label", path, default=lid, limit=40),
            classes=tuple(str(c) for c in classes),
            timeout=spec.get("timeout"),
            retry=spec.get("retry"),
            breaker=spec.get("breaker"),
            bulkhead=spec.get("bulkhead"),
            idempotency=spec.get("idempotency"),
            max_deliveries=int(check.number(spec, "max_deliveries", path, default=0, low=0, high=20, whole=True)),
            prefetch=int(check.number(spec, "prefetch", path, default=1, low=1, high=100, whole=True)),
            ack=_ack(check, spec, path, kind),
            consumer_knobs=_consumer_knobs(check, spec, kind, path),
            subscriptions=tuple(subscriptions),
            partitions=int(check.number(spec, "partitions", path, default=1, low=1, high=MAX_PARTITIONS, whole=True)),
            key=str(spec.get("key", "")),
            groups=tuple(groups),
            retention=int(check.number(spec, "retention", path, default=10_000, low=10, high=100_000, whole=True)),
            deadline_ms=check.number(spec, "deadline_ms", path, default=0.0, low=0, high=60_000),
            match=check.choice(spec, "match", path, MATCH_MODES, "correlation_id"),
            match_param=_ref(spec.get("match_param")),
            at=check.point(spec, path),
        )
        for field_name in ("match", "match_param"):
            if field_name in spec and kind != "reply":
                check.fail(f"{path}.{field_name}", "says how replies find their request: only for a reply link")
        links.setdefault(lid, link)  # a repeated id keeps the first link, so steps are checked against it
    return links


def _ack(check: _Checker, spec: dict[str, Any], path: str, kind: str) -> str | None:
    """A queue's or topic's ack mode; only their consumers acknowledge messages one by one."""
    if "ack" not in spec:
        return None
    if kind not in ("queue", "topic"):
        check.fail(f"{path}.ack", "only a queue's or a topic's consumers acknowledge messages")
        return None
    return check.choice(spec, "ack", path, ACK_MODES, "after_work")


def _consumer_knobs(check: _Checker, spec: dict[str, Any], kind: str, path: str) -> bool:
    wanted = check.flag(spec, "consumer_knobs", path, default=False)
    if wanted and kind not in ("queue", "topic"):
        check.fail(
            f"{path}.consumer_knobs",
            f"only a queue or a topic (each subscription) has consumer knobs; this link is a {kind}",
        )
    return wanted and kind in ("queue", "topic")


def _steps(check: _Checker, raw: Any, path: str, *, depth: int, single: bool = False) -> list[Step]:
    items = check.seq(raw, path)
    if depth > MAX_DEPTH:
        check.fail(path, f"steps nest at most {MAX_DEPTH} deep")
        return []
    if len(items) > MAX_STEPS:
        check.fail(path, f"at most {MAX_STEPS} steps, got {len(items)}")
    steps = []
    for index, body in enumerate(items):
        step_path = path if single else f"{path}[{index}]"
        spec = check.mapping(body, step_path)
        kinds = [k for k in STEP_KINDS if k in spec]
        if len(kinds) != 1:
            check.fail(step_path, f"must have exactly one of {', '.join(STEP_KINDS)}")
            continue
        kind = kinds[0]
        value = spec[kind]
        options = {k: v for k, v in spec.items() if k not in (kind, "compensate")}
        children: tuple[Step, ...] = ()
        target = ""
        if kind == "saga":
            children = tuple(
                _steps(check, check.mapping(value, step_path).get("steps"), f"{step_path}.saga.steps", depth=depth + 1)
            )
            options = {**check.mapping(value, step_path), **options}
            options.pop("steps", None)
        elif kind == "aggregate":
            agg = check.mapping(value, f"{step_path}.aggregate")
            if not isinstance(agg.get("events"), list) or len(agg["events"]) < 2:
                check.fail(f"{step_path}.aggregate.events", "list at least two events to wait for")
            children = tuple(_steps(check, agg.get("then"), f"{step_path}.aggregate.then", depth=depth + 1))
            options = {k: v for k, v in agg.items() if k != "then"} | options
        elif kind == "work":
            options["ms"] = check.number(spec, "work", step_path, default=0.0, low=0, high=60_000)
        elif kind == "reply":
            target = ""
        else:
            if not isinstance(value, str):
                check.fail(f"{step_path}.{kind}", "must name a link (or, for emit and fail, an event)")
            target = str(value)
        compensation = None
        if "compensate" in spec:
            compensated = _steps(check, [spec["compensate"]], f"{step_path}.compensate", depth=depth + 1, single=True)
            compensation = compensated[0] if compensated else None
        steps.append(
            Step(
                kind=kind, target=target, options=options, children=children, compensation=compensation, path=step_path
            )
        )
    return steps


def _walk(steps: tuple[Step, ...]) -> list[Step]:
    found = []
    for step in steps:
        found.append(step)
        found += _walk(step.children)
        if step.compensation:
            found += _walk((step.compensation,))
    return found


def _steps_everywhere(check: _Checker, services: dict[str, Service], links: dict[str, Link]) -> None:
    """Every step names a link of the right kind that leaves the service running it."""
    for service in services.values():
        handlers = [("steps", service.steps)] + [(f"on.{event}", steps) for event, steps in service.on.items()]
        for where, steps in handlers:
            _check_steps(check, f"services.{service.id}.{where}", service.id, steps, links)


LINK_FOR_STEP = {
    "call": ("call",),
    "send": ("queue", "topic", "stream"),
    "request": ("reply",),
    "outbox": ("queue", "topic", "stream"),
    "project": ("stream",),
}


def _check_steps(check: _Checker, path: str, owner: str, steps: tuple[Step, ...], links: dict[str, Link]) -> None:
    for index, step in enumerate(_walk(steps)):
        wanted = LINK_FOR_STEP.get(step.kind)
        if wanted is None:
            continue
        link = links.get(step.target)
        where = f"{step.path or f'{path}[{index}]'}.{step.kind}"
        if step.target in check.kindless:
            continue
        if link is None:
            check.fail(where, f"names no link; links are {', '.join(links) or 'none'}")
        elif link.kind not in wanted:
            check.fail(where, f"{step.kind} needs a {' or '.join(wanted)} link; {link.id!r} is a {link.kind}")
        elif step.kind == "project":  # a projection is built by a consumer of the stream, from its entries
            if not any(group.to == owner for group in link.groups):
                check.fail(where, f"no consumer group of {link.id!r} goes to {owner}; project runs in one")
        elif link.source != owner:
            check.fail(where, f"link {link.id!r} leaves {link.source}, not {owner}")


OUTBOX_MODES = ("outbox", "dual_write", "publish_then_save")
MAX_WAIT_MS = 60_000  # aggregate timeout_ms and a read's read_wait_ms and read_after_ms


def _step_options(
    check: _Checker,
    services: dict[str, Service],
    workload: Workload,
    links: dict[str, Link],
    policies: dict[str, Policy],
    schema: Schema,
) -> None:
    """Options the constructs read (sagas, aggregates, stream sends, projections, outboxes): a misspelt policy or
    parameter, or a value of the wrong type, would otherwise change what a run does without a word."""
    handlers = [(service.id, steps) for service in services.values() for steps in (service.steps, *service.on.values())]
    handlers += [(workload.entry, c.steps) for c in workload.classes]
    for owner, steps in handlers:
        for step in _walk(steps):
            _options_of(check, step, services.get(owner), links, policies, schema)


def _options_of(
    check: _Checker,
    step: Step,
    owner: Service | None,
    links: dict[str, Link],
    policies: dict[str, Policy],
    schema: Schema,
) -> None:
    options, where = step.options, f"{step.path}.{step.kind}"
    bools = sorted(p.name for p in schema.params if p.kind == "bool")
    if "when" in options and _ref(options["when"]) not in bools:
        check.fail(f"{step.path}.when", f"names no bool parameter; bool parameters are {', '.join(bools) or 'none'}")
    if step.kind == "saga":
        retry = _ref(options.get("retry"))
        if retry is not None and (retry not in policies or policies[retry].kind != "retry"):
            named = ", ".join(n for n, p in policies.items() if p.kind == "retry") or "none"
            check.fail(f"{where}.retry", f"names no retry policy; retry policies are {named}")
        switch = _ref(options.get("compensations"))
        if switch is not None and switch not in bools:
            check.fail(f"{where}.compensations", f"names no bool parameter; bool parameters are {', '.join(bools)}")
        if "undo" in options:
            check.flag(options, "undo", where, default=False)
        if options.get("undo") is True and owner is not None:
            name = _ref(options.get("name", owner.id))
            sagas = _sagas_of(owner)
            if name not in sagas:
                field_name = "name" if "name" in options else "undo"
                check.fail(
                    f"{where}.{field_name}",
                    f"names no saga of {owner.id}; its sagas are {', '.join(sagas) or 'none'} (undo compensates"
                    " the service's own saga of that name)",
                )
    elif step.kind == "aggregate":
        events = options.get("events")
        for index, event in enumerate(events if isinstance(events, list) else []):
            if not isinstance(event, str):
                check.fail(f"{where}.events[{index}]", f"must be text (a routing key), got {event!r}")
        if "by" in options and not isinstance(options["by"], str):
            check.fail(f"{where}.by", f"must be text (a body or envelope field), got {options['by']!r}")
        check.number(options, "timeout_ms", where, default=0.0, low=0, high=MAX_WAIT_MS)
    elif step.kind == "project":
        check.flag(options, "check_version", step.path, default=True)
    elif step.kind == "outbox":
        if "mode" in options:
            check.choice(options, "mode", step.path, OUTBOX_MODES, "outbox")
        mode_param = _ref(options.get("mode_param"))
        param = schema.by_name.get(mode_param) if isinstance(mode_param, str) else None
        if mode_param is not None and (
            param is None or param.kind != "choice" or set(param.choices) - set(OUTBOX_MODES)
        ):
            check.fail(
                f"{step.path}.mode_param",
                f"names no choice parameter with choices among {', '.join(OUTBOX_MODES)}",
            )
        if "table" in options and not isinstance(options["table"], str):
            check.fail(f"{step.path}.table", f"must be text, got {options['table']!r}")
    if step.kind in ("send", "request", "outbox") and "body" in options and not isinstance(options["body"], dict):
        check.fail(f"{step.path}.body", f"must be a mapping of fields, got {type(options['body']).__name__}")
    if step.kind == "send" and step.target not in check.kindless:
        _send_options(check, step, links.get(step.target), bools)


def _send_options(check: _Checker, step: Step, link: Link | None, bools: list[str]) -> None:
    """A send over a stream may name its `event` and query a group's read model right after (`read`, ...)."""
    options, path = step.options, step.path
    if "event" in options and not isinstance(options["event"], str):
        check.fail(f"{path}.event", f"must be text (the event's name), got {options['event']!r}")
    reads = [name for name in ("read", "read_your_writes", "read_wait_ms", "read_after_ms") if name in options]
    if link is None or link.kind != "stream":
        for name in reads:
            check.fail(f"{path}.{name}", "reads a stream's read model: only for a send over a stream link")
        if "partition_by" in options:
            check.fail(f"{path}.partition_by", "picks a stream partition: only for a send over a stream link")
        return
    if "partition_by" in options:
        allowed = PARTITION_BY if link.key else ("round_robin",)
        if options["partition_by"] not in allowed:
            reason = "" if link.key else f" (stream {link.id!r} has no key)"
            check.fail(
                f"{path}.partition_by", f"must be one of {', '.join(allowed)}{reason}, got {options['partition_by']!r}"
            )
    if "read" in options:
        groups = [group.id for group in link.groups]
        if _ref(options["read"]) not in groups:
            check.fail(f"{path}.read", f"names no consumer group of {link.id!r}; its groups are {', '.join(groups)}")
    elif reads:
        check.fail(f"{path}.{reads[0]}", "needs read: <consumer group> to say which read model to query")
    wait = _ref(options.get("read_your_writes"))
    if wait is not None and not isinstance(wait, bool) and wait not in bools:
        check.fail(
            f"{path}.read_your_writes",
            f"must be true, false or the name of a bool parameter; bool parameters are {', '.join(bools) or 'none'}",
        )
    check.number(options, "read_wait_ms", path, default=5000.0, low=0, high=MAX_WAIT_MS)
    check.number(options, "read_after_ms", path, default=0.0, low=0, high=MAX_WAIT_MS)


def _sagas_of(service: Service) -> list[str]:
    """The sagas an `undo` in this service can compensate: its own top-level saga steps (name, else the service),
    as lab/engine/constructs/sagas.py looks them up."""
    names = []
    for steps in (service.steps, *service.on.values()):
        for step in steps:
            if step.kind == "saga" and not step.options.get("undo"):
                name = _ref(step.options.get("name") or service.id)
                if name not in names:
                    names.append(name)
    return names


def _workload(
    check: _Checker,
    spec: dict[str, Any],
    services: dict[str, Service],
    links: dict[str, Link],
    policies: dict[str, Policy],
) -> Workload:
    path = "workload"
    check.unknown(spec, WORKLOAD_FIELDS, path)
    entry = _ref(spec.get("entry"))
    if entry not in services:
        check.fail(f"{path}.entry", f"names no service; services are {', '.join(services)}")
    arrival_spec = spec.get("arrival", "uniform")
    arrival_param = isinstance(arrival_spec, dict) and bool(arrival_spec.get("learner_picks"))
    arrival = arrival_spec.get("default", "uniform") if isinstance(arrival_spec, dict) else arrival_spec
    if arrival not in ("uniform", "poisson", "burst"):
        check.fail(f"{path}.arrival", f"must be uniform, poisson or burst, got {arrival!r}")
    classes = []
    for name, body in check.mapping(spec.get("classes"), f"{path}.classes").items():
        class_path = f"{path}.classes.{name}"
        check.name(name, class_path)
        name = name if isinstance(name, str) else repr(name)
        class_spec = check.mapping(body, class_path)
        check.unknown(class_spec, CLASS_FIELDS, class_path)
        steps = tuple(_steps(check, class_spec.get("steps"), f"{class_path}.steps", depth=1))
        _check_steps(check, f"{class_path}.steps", str(entry), steps, links)
        bulkhead = _ref(class_spec.get("bulkhead"))
        if bulkhead is not None and (bulkhead not in policies or policies[bulkhead].kind != "bulkhead"):
            check.fail(f"{class_path}.bulkhead", "names no bulkhead policy")
        classes.append(RequestClass(name=name, steps=steps, bulkhead=bulkhead))
    if not classes:
        check.fail(f"{path}.classes", "declare at least one request class")
    select = check.mapping(spec.get("select"), f"{path}.select")
    check.unknown(select, SELECT_FIELDS, f"{path}.select")
    for key in ("param", "together"):
        if select.get(key) is not None:
            check.name(select[key], f"{path}.select.{key}", NODE_NAME)
    if spec.get("group_by") is not None:
        check.name(spec["group_by"], f"{path}.group_by")
    weights = {str(k): str(v) for k, v in check.mapping(select.get("weights"), f"{path}.select.weights").items()}
    retry = _ref(spec.get("retry"))
    if retry is not None and (retry not in policies or policies[retry].kind != "retry"):
        check.fail(f"{path}.retry", "names no retry policy")
    return Workload(
        entry=str(entry),
        duration=int(check.number(spec, "duration", path, default=60, low=5, high=300, whole=True)),
        rate=check.number(spec, "rate", path, default=5.0, low=0.5, high=50),
        arrival=str(arrival),
        arrival_param=arrival_param,
        group_by=spec["group_by"] if isinstance(spec.get("group_by"), str) else None,
        classes=tuple(classes),
        select_param=select["param"] if isinstance(select.get("param"), str) else None,
        together=select["together"] if isinstance(select.get("together"), str) else None,
        weights=weights,
        retry=retry,
        select=select,
    )


def _extra_params(check: _Checker, raw: Any) -> list[Param]:
    params = []
    for index, body in enumerate(check.seq(raw, "parameters")):
        path = f"parameters[{index}]"
        spec = check.mapping(body, path)
        kind = check.choice(spec, "type", path, ("int", "float", "bool", "choice"), "float")
        name = check.name(spec.get("name"), f"{path}.name", NODE_NAME)
        param = Param(
            name=name,
            kind=kind,  # type: ignore[arg-type]
            default=spec.get("default"),
            label=check.text(spec, "label", path, limit=60),
            minimum=spec.get("minimum"),
            maximum=spec.get("maximum"),
            choices=tuple(str(c) for c in spec["choices"]) if isinstance(spec.get("choices"), list) else (),
            unit=str(spec.get("unit", "")),
            live=bool(spec.get("live", False)),
            group=str(spec.get("group", "run")),
            help=str(spec.get("help", "")),
        )
        if kind in ("int", "float"):
            for bound in ("minimum", "maximum"):
                value = spec.get(bound)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    check.fail(f"{path}.{bound}", f"is required for a {kind} parameter and must be a number")
        if kind == "choice" and not (isinstance(spec.get("choices"), list) and spec["choices"]):
            check.fail(f"{path}.choices", "list at least one choice")
        elif kind == "choice" and not all(isinstance(c, str) for c in spec["choices"]):
            check.fail(f"{path}.choices", "every choice must be text")
        if not any(key.startswith(f"{path}.") for key in check.errors):
            try:
                param.validate(param.default)
            except ParamError as exc:
                check.fail(f"{path}.default", exc.message)
        params.append(param)
    return params


def _params(
    workload: Workload, services: dict[str, Service], policies: dict[str, Policy], extra: list[Param]
) -> list[Param]:
    """Every knob of the experiment, generated from the document: run, workload, services, faults, policies."""
    params = [
        Param("duration", "int", workload.duration, "Duration", 5, 300, unit="s", help="How long new requests arrive."),
        Param("rate", "float", workload.rate, "Request rate", 0.5, 50, unit="requests/s"),
        Param("seed", "int", 42, "Random seed", 0, 2**31 - 1, help="Same seed, same workload and dice rolls."),
    ]
    if workload.arrival_param:
        params.append(
            Param(
                "arrival",
                "choice",
                workload.arrival,
                "Arrivals",
                choices=("uniform", "poisson", "burst"),
                help="burst sends each second's requests at the same instant, like clients on a shared timer.",
            )
        )
    if workload.select_param:
        choices = tuple(c.name for c in workload.classes) + ((workload.together,) if workload.together else ())
        params.append(
            Param(
                workload.select_param,
                "choice",
                workload.select.get("default", choices[0]),
                str(workload.select.get("label", workload.select_param.title())),
                choices=choices,
                help=str(workload.select.get("help", "")),
            )
        )
    params += extra
    for service in services.values():
        if service.work_param:
            params.append(
                Param(
                    service.work_param,
                    "float",
                    service.work_ms,
                    f"{service.label} service time",
                    0,
                    MAX_WORK_KNOB_MS,
                    unit="ms",
                    group="services",
                )
            )
    for service in services.values():
        if service.pool and service.pool.param:
            params.append(
                Param(
                    service.pool.param,
                    "int",
                    service.pool.size,
                    f"{service.label} pool size",
                    1,
                    200,
                    unit="threads",
                    group="services",
                )
            )
    for service in services.values():
        if service.faults:
            params += failure_params(service.id, service.label)
    for policy in policies.values():
        params += policy_params(policy)
    return params


def scalable_queues(links: dict[str, Link], services: dict[str, Service]) -> dict[str, tuple[str, Link, str]]:
    """Queues whose consumers a learner scales, slows and poisons live (`consumer_knobs`): each queue with them, and
    each subscription of a topic with them, as {queue: (label, its link, the consuming service)}."""
    found = {}
    for link in links.values():
        if link.consumer_knobs and link.kind == "topic":
            for sub in link.subscriptions:
                owner = services[sub.to].label if sub.to in services else sub.to
                found[sub.id] = (f"{owner}'s subscription", link, sub.to)
        elif link.consumer_knobs:
            found[link.id] = (link.label, link, link.target)
    return found


def queue_params(links: dict[str, Link], services: dict[str, Service]) -> list[Param]:
    """Per queue with `consumer_knobs` (and per subscription of a topic with them): how many consumers compete for
    it, how many messages each may prefetch, how much slower its first consumer is, and the share of messages its
    consumers cannot handle (poison)."""
    params = []
    for name, (label, link, consumer_id) in scalable_queues(links, services).items():
        where = f"subscription:{name}" if link.kind == "topic" else f"queue:{name}"  # beside its other knobs
        consumer, prefetch = services.get(consumer_id), link.prefetch
        params += [
            Param(
                f"{name}.consumers",
                "int",
                consumer.instances if consumer else 1,
                f"{label}: consumers",
                0,
                64,
                live=True,
                group=where,
                help="Consumers taking messages off the queue; 0 leaves them waiting. A removed consumer hands back"
                " what it had prefetched.",
            ),
            Param(
                f"{name}.prefetch",
                "int",
                prefetch,
                f"{label}: prefetch",
                1,
                100,
                live=True,
                group=where,
                help="How many messages each consumer may hold at once; it works through them one at a time.",
            ),
            Param(
                f"{name}.slow_consumer_ms",
                "float",
                0.0,
                f"{label}: consumer 1 slower by",
                0,
                10_000,
                unit="ms",
                live=True,
                group=where,
                help="Extra time consumer 1 spends on every message (a noisy neighbour, a cold cache).",
            ),
            Param(
                f"{name}.poison_share",
                "float",
                0.0,
                f"{label}: share of poison messages",
                0,
                1,
                unit="fraction",
                live=True,
                group=where,
                help="Messages the consumer cannot handle fail every delivery until they are dead-lettered. Set it"
                " to 0 to deploy the fix, then re-drive the dead letters.",
            ),
        ]
    return params


def stream_params(links: dict[str, Link], services: dict[str, Service]) -> list[Param]:
    """Per stream, its partition count (fixed when the run starts). Per consumer group of a stream: how many
    consumers it runs (partitions rebalance over them), a resequencer switch, a live rewind switch (each switch-on
    moves the group's offsets back once) and the offset it rewinds to; for a group whose consumer projects the
    stream, a rebuild switch too."""
    params = []
    for link in links.values():
        if link.kind == "stream":
            params.append(
                Param(
                    f"{link.id}.partitions",
                    "int",
                    link.partitions,
                    f"{link.label}: partitions",
                    1,
                    MAX_PARTITIONS,
                    help="How many partitions the stream has; fixed when the run starts.",
                )
            )
        for group in link.groups if link.kind == "stream" else ():
            name, where = f"{link.id}.{group.id}", f"stream:{link.id}"
            consumer = services.get(group.to)  # None only in a document that fails validation anyway
            params += [
                Param(
                    f"{name}.consumers",
                    "int",
                    consumer.instances if consumer else 1,
                    f"{group.id}: consumers",
                    1,
                    64,
                    live=True,
                    group=where,
                    help="Partition p goes to consumer p mod consumers; consumers beyond the partitions stay idle.",
                ),
                Param(
                    f"{name}.resequence",
                    "bool",
                    False,
                    f"{group.id}: resequencer",
                    live=True,
                    group=where,
                    help="Hold back an event that overtook its key's previous one until that one is processed.",
                ),
                Param(
                    f"{name}.rewind",
                    "bool",
                    False,
                    f"Rewind {group.id}",
                    live=True,
                    group=where,
                    help="Move the group's offset back in every partition: it replays the retained entries.",
                ),
                Param(f"{name}.rewind_to", "int", 0, f"{group.id}: rewind to offset", 0, 10**9, live=True, group=where),
            ]
            if consumer and _projects(consumer, link.id):
                params.append(
                    Param(
                        f"{name}.rebuild",
                        "bool",
                        False,
                        f"Rebuild {group.id} from the log",
                        live=True,
                        group=where,
                        help="Wipe the group's read model and replay the stream into it from the oldest retained"
                        " event; switches itself off once started.",
                    )
                )
    return params


def projected_groups(link: Link, services: dict[str, Service]) -> list[ConsumerGroup]:
    """The consumer groups of a stream whose consumer builds a read model of it (a `project` step)."""
    if link.kind != "stream":
        return []
    return [g for g in link.groups if g.to in services and _projects(services[g.to], link.id)]


def _projects(service: Service, link: str) -> bool:
    """Whether the service builds a read model of the stream: a `project` step of that link in any handler."""
    handlers = (service.steps, *service.on.values())
    return any(step.kind == "project" and step.target == link for steps in handlers for step in _walk(steps))


def subscription_params(links: dict[str, Link]) -> list[Param]:
    """Per topic subscription: whether its subscriber is subscribed (switch it off and on to take the subscriber away
    and bring it back, or on for a late one), push or pull delivery and the poll interval, and its binding and
    content filter, all editable mid-run."""
    params = []
    for link in links.values():
        for sub in link.subscriptions if link.kind == "topic" else ():
            where = f"subscription:{sub.id}"
            params += [
                Param(
                    f"{sub.id}.subscribed",
                    "bool",
                    sub.subscribed,
                    f"{sub.id}: subscribed",
                    live=True,
                    group=where,
                    help="Off: the subscriber is away. A durable subscription keeps its copies until it is back; a"
                    " non-durable one gets none meanwhile. A late subscriber sees only what is published after it"
                    " joins.",
                ),
                Param(
                    f"{sub.id}.delivery",
                    "choice",
                    sub.delivery,
                    f"{sub.id}: delivery",
                    choices=DELIVERIES,
                    live=True,
                    group=where,
                    help="push: the broker hands each copy out as it arrives. pull: the consumer takes what is waiting"
                    " when it polls, and asks again as soon as it finishes one.",
                ),
                Param(
                    f"{sub.id}.poll_ms",
                    "int",
                    sub.poll_ms,
                    f"{sub.id}: poll every",
                    100,
                    10_000,
                    unit="ms",
                    live=True,
                    group=where,
                    help="How often an idle pull consumer asks for messages.",
                ),
                Param(
                    f"{sub.id}.binding",
                    "text",
                    sub.binding,
                    f"{sub.id}: binding",
                    live=True,
                    group=where,
                    syntax="binding",
                    help="Routing-key pattern: * matches one word, # zero or more (orders.*, #.eu).",
                ),
                Param(
                    f"{sub.id}.filter",
                    "text",
                    sub.filter,
                    f"{sub.id}: content filter",
                    live=True,
                    group=where,
                    syntax="filter",
                    help="One comparison on the message body (total > 1000, region == 'eu'); empty passes all.",
                ),
            ]
    return params


def delivery_params(links: dict[str, Link], services: dict[str, Service], workload: Workload) -> list[Param]:
    """Per link with an ack mode, where its consumers acknowledge; per link an `outbox` step writes to, how often
    its relay crashes between publishing an entry and marking it sent."""
    params = []
    for link in links.values():
        if link.ack:
            params.append(
                Param(
                    f"{link.id}.ack",
                    "choice",
                    link.ack,
                    f"{link.label}: acknowledge",
                    choices=ACK_MODES,
                    live=True,
                    group=f"delivery:{link.id}",
                    help="after_work: at-least-once (a crash before the ack redelivers work already done);"
                    " before_work: at-most-once (a crash after the ack loses the message).",
                )
            )
    handlers = [s.steps for s in services.values()] + [steps for s in services.values() for steps in s.on.values()]
    written = {
        step.target
        for steps in handlers + [c.steps for c in workload.classes]
        for step in _walk(steps)
        if step.kind == "outbox"
    }
    for link in links.values():
        if link.id in written:
            params.append(
                Param(
                    f"{link.id}.relay_crash_rate",
                    "float",
                    0.0,
                    f"{link.label}: relay crash rate",
                    0,
                    1,
                    unit="fraction",
                    live=True,
                    group=f"delivery:{link.id}",
                    help="Share of outbox entries after whose publish the relay crashes before marking them sent:"
                    " it restarts and publishes them again.",
                )
            )
    return params


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


def policy_params(policy: Policy) -> list[Param]:
    """A policy's knobs, named `<policy>.<setting>` and labelled with resilience4j's names."""
    n, d, group = policy.name, policy.defaults, f"policy:{policy.name}"

    def live(name: str, kind: str, label: str, low: float | None = None, high: float | None = None, **kw: Any) -> Param:
        return Param(f"{n}.{name}", kind, d[name], label, low, high, live=True, group=group, **kw)  # type: ignore[arg-type]

    if policy.kind == "timeout":
        return [
            live("enabled", "bool", "Timeout on sync calls"),
            live("ms", "float", "Timeout", 10, 30000, unit="ms", help="timeoutDuration: give up waiting after this."),
        ]
    if policy.kind == "retry":
        return [
            live("enabled", "bool", "Retry"),
            live("max_attempts", "int", "maxAttempts", 1, 10, help="Counts the first try."),
            live("delay_ms", "float", "Initial delay", 0, 10000, unit="ms"),
            live("backoff", "choice", "Backoff", choices=("constant", "linear", "exponential")),
            live("multiplier", "float", "Multiplier", 1, 10),
            live("jitter", "choice", "Jitter", choices=("none", "full", "equal", "decorrelated")),
            live("max_delay_ms", "float", "Max delay", 0, 60000, unit="ms"),
        ]
    if policy.kind == "breaker":
        return [
            live("enabled", "bool", "Circuit breaker"),
            live("mode", "choice", "Breaker mode", choices=("rate", "consecutive")),
            live("sliding_window_type", "choice", "slidingWindowType", choices=("count", "time")),
            live("sliding_window_size", "int", "slidingWindowSize", 1, 1000, unit="calls or s"),
            live("failure_rate_threshold", "float", "failureRateThreshold", 1, 100, unit="%"),
            live("minimum_number_of_calls", "int", "minimumNumberOfCalls", 1, 1000),
            live("slow_call_duration_threshold_ms", "float", "slowCallDurationThreshold", 1, 60000, unit="ms"),
            live("slow_call_rate_threshold", "float", "slowCallRateThreshold", 1, 100, unit="%"),
            live("wait_duration_in_open_state_ms", "float", "waitDurationInOpenState", 100, 120000, unit="ms"),
            live(
                "permitted_number_of_calls_in_half_open_state", "int", "permittedNumberOfCallsInHalfOpenState", 1, 100
            ),
            live("consecutive_failures", "int", "Consecutive failures to open", 1, 1000),
        ]
    if policy.kind == "bulkhead":
        return [
            live(
                "enabled",
                "bool",
                "Bulkhead",
                help="Requests of its class may use only maxConcurrentCalls of the entry service's threads.",
            ),
            live("max_concurrent", "int", "maxConcurrentCalls", 1, 200),
        ]
    return [
        live(
            "idempotent",
            "bool",
            "Idempotent consumers",
            help="Consumers remember the key of each message they processed and skip one whose key they have seen.",
        ),
        live(
            "key",
            "choice",
            "Idempotency key",
            choices=IDEMPOTENCY_KEYS,
            help="message_id: the broker's id of the message (a republished copy has a new one); correlation_id:"
            " the order it is about.",
        ),
        live(
            "ttl_ms",
            "float",
            "Remember keys for",
            0,
            600_000,
            unit="ms",
            help="How long the dedup store keeps a key; 0 keeps it for the whole run.",
        ),
    ]


def _presets(check: _Checker, raw: Any, schema: Schema) -> list[Preset]:
    presets: list[Preset] = []
    for index, body in enumerate(check.seq(raw, "presets")):
        spec = check.mapping(body, f"presets[{index}]")
        slug = check.name(spec.get("slug"), f"presets[{index}].slug")
        if slug and any(p.slug == slug for p in presets):
            check.fail(f"presets[{index}].slug", "is already used by another preset")
        path = f"presets.{slug or index}"
        check.unknown(spec, PRESET_FIELDS, path)
        config = check.mapping(spec.get("config"), f"{path}.config")
        try:
            schema.validate(config, prefix=f"{path}.config")
        except ValueError as exc:
            for field_name, message in getattr(exc, "errors", {"config": str(exc)}).items():
                check.fail(field_name, message)
        script = []
        for step_index, step in enumerate(check.seq(spec.get("script"), f"{path}.script")):
            step_spec = check.mapping(step, f"{path}.script[{step_index}]")
            check.unknown(step_spec, SCRIPT_FIELDS, f"{path}.script[{step_index}]")
            at = check.number(step_spec, "at", f"{path}.script[{step_index}]", default=0.0, low=0, high=300)
            values = check.mapping(step_spec.get("set"), f"{path}.script[{step_index}].set")
            try:
                schema.validate(values, prefix=f"{path}.script[{step_index}].set", live_only=True)
            except ValueError as exc:
                for field_name, message in getattr(exc, "errors", {"set": str(exc)}).items():
                    check.fail(field_name, message)
            script.append(ScriptStep(at=at, values=values))
        presets.append(
            Preset(
                slug=slug,
                title=check.text(spec, "title", path, limit=80),
                notice=check.text(spec, "notice", path, default="", limit=1200),
                config=config,
                script=tuple(script),
                predict=parse_predict(check, spec.get("predict"), f"{path}.predict"),
                next=parse_next(check, spec.get("next"), f"{path}.next"),
            )
        )
    slugs = [p.slug for p in presets]
    for found in presets:
        check_next(check, found.slug, found.next, f"presets.{found.slug}.next", slugs)
    return presets


def _invariants(check: _Checker, raw: Any) -> list[dict[str, Any]]:
    found = []
    for index, body in enumerate(check.seq(raw, "invariants")):
        spec = check.mapping(body, f"invariants[{index}]")
        kind = check.choice(spec, "kind", f"invariants[{index}]", INVARIANT_KINDS, None)  # type: ignore[arg-type]
        if kind == "effect_once":
            check.unknown(spec, {"kind", "event"}, f"invariants[{index}]")
            event = spec.get("event")
            if not isinstance(event, str) or not event:
                check.fail(f"invariants[{index}].event", "is required: the name an emit step logs for the effect")
        found.append({**spec, "kind": kind})
    return found


def _view(
    check: _Checker, spec: dict[str, Any], services: dict[str, Service], links: dict[str, Link]
) -> dict[str, Any]:
    charts = []
    for index, body in enumerate(check.seq(spec.get("charts"), "view.charts")):
        chart = check.mapping(body, f"view.charts[{index}]")
        kind = check.choice(chart, "kind", f"view.charts[{index}]", CHART_KINDS, None)  # type: ignore[arg-type]
        target = _ref(chart.get("target"))
        if target is not None and target not in services:
            check.fail(f"view.charts[{index}].target", f"names no service; services are {', '.join(services)}")
        if kind == "retry_waves" and target is None:
            check.fail(
                f"view.charts[{index}].target",
                "is required: the service whose outage (its .down switched on) the retry waves are aligned to",
            )
        if kind in BUCKET_CHARTS:
            low, high = BUCKET_MS_RANGE
            chart["bucket_ms"] = check.number(
                chart, "bucket_ms", f"view.charts[{index}]", default=BUCKET_CHARTS[kind], low=low, high=high, whole=True
            )
        charts.append({**chart, "kind": kind})
    panels = []
    for index, body in enumerate(check.seq(spec.get("panels"), "view.panels")):
        path = f"view.panels[{index}]"
        panel = check.mapping(body, path)
        check.unknown(panel, PANEL_FIELDS, path)
        kind = check.choice(panel, "kind", path, PANEL_KINDS, None)  # type: ignore[arg-type]
        if kind is not None:
            _panel_link(check, panel, kind, path, links, services)
        panels.append({**panel, "kind": kind})
    return {"charts": charts, "panels": panels}


def _panel_link(
    check: _Checker, panel: dict[str, Any], kind: str, path: str, links: dict[str, Link], services: dict[str, Service]
) -> None:
    """A panel shows one link of the kind it reads (a reply link's pending requests, a stream's projections, a
    scalable queue's consumers), or the whole run (its dead letters, from every queue)."""
    wanted = PANEL_LINKS[kind]
    if wanted is None:
        if "link" in panel:
            check.fail(f"{path}.link", f"a {kind} panel lists the dead letters of every queue; it takes no link")
        elif not _has_dead_letters(links):
            check.fail(f"{path}.kind", f"{kind} needs a queue or topic whose messages can be dead-lettered")
        return
    if kind == "projection":
        fits = [lid for lid, link in links.items() if projected_groups(link, services)]
        named, listed = "stream with a projecting consumer group", "such streams"
    elif kind == "consumers":
        fits = list(scalable_queues(links, services))
        named, listed = "queue or subscription with consumer_knobs", "queues and subscriptions with consumer_knobs"
    else:
        fits = [lid for lid, found in links.items() if found.kind == wanted]
        named, listed = f"{wanted} link", f"{wanted} links"
    if _ref(panel.get("link")) not in fits:
        check.fail(f"{path}.link", f"names no {named}; {listed} are {', '.join(fits) or 'none'}")


def _no_sync_cycles(check: _Checker, services: dict[str, Service], links: dict[str, Link], workload: Workload) -> None:
    """A cycle of sync calls would deadlock a real system and run forever here; async cycles are allowed."""
    calls: dict[str, set[str]] = {sid: set() for sid in services}
    for link in links.values():
        if link.kind == "call" and link.source in calls:
            calls[link.source].add(link.target)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(calls.get(node, ())):
            if state.get(nxt) == 1:
                cycle = " → ".join([*trail[trail.index(nxt) :], nxt]) if nxt in trail else f"{node} → {nxt}"
                check.fail("links", f"sync calls form a cycle: {cycle}")
            elif state.get(nxt) is None:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for sid in services:
        if state.get(sid) is None:
            visit(sid, [sid])


def has_sagas(topology: Topology) -> bool:
    """Whether any handler of the document runs a saga (its runs then log saga events and count `sagas.*`)."""

    def walk(steps: tuple[Step, ...]) -> bool:
        return any(
            s.kind == "saga" or walk(s.children) or (s.compensation is not None and walk((s.compensation,)))
            for s in steps
        )

    handlers = [c.steps for c in topology.workload.classes]
    for service in topology.services.values():
        handlers += [service.steps, *service.on.values()]
    return any(walk(steps) for steps in handlers)


# What the page draws


def diagram(topology: Topology) -> dict[str, Any]:
    """Nodes and edges for the live view: services, queue and subscription boxes, the dead-letter box."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    breaker_params = {link.target: f"{link.breaker}.enabled" for link in topology.links.values() if link.breaker}
    entry = topology.workload.entry
    client = next((s.id for s in topology.services.values() if s.kind == "client"), None)
    for service in topology.services.values():
        node: dict[str, Any] = {
            "id": service.id,
            "label": service.label,
            "kind": service.kind,
            "x": service.at[0],
            "y": service.at[1],
        }
        if service.pool and service.pool.param:
            node["pool_param"] = service.pool.param
        if service.id in breaker_params:
            node["breaker_param"] = breaker_params[service.id]
        nodes.append(node)
    if client:
        edges.append({"from": client, "to": entry, "kind": "sync", "classes": []})
    for link in topology.links.values():
        classes = list(link.classes)
        if link.kind == "call":
            edges.append({"from": link.source, "to": link.target, "kind": "sync", "classes": classes})
            continue
        src, dst = topology.services[link.source].at, topology.services[link.target].at if link.target else (0.5, 0.5)
        at = link.at or ((src[0] + dst[0]) / 2, (src[1] + dst[1]) / 2)
        kind = {"queue": "queue", "reply": "reply", "topic": "topic", "stream": "stream"}[link.kind]
        nodes.append({"id": link.id, "label": link.label, "kind": kind, "x": at[0], "y": at[1]})
        edges.append({"from": link.source, "to": link.id, "kind": "async", "classes": classes})
        if link.kind == "topic":
            for index, sub in enumerate(link.subscriptions):
                sub_at = sub.at or (
                    at[0] + 0.12,
                    max(0.05, min(0.95, at[1] + (index - (len(link.subscriptions) - 1) / 2) * 0.14)),
                )
                nodes.append({"id": sub.id, "label": sub.id, "kind": "queue", "x": sub_at[0], "y": sub_at[1]})
                edges.append({"from": link.id, "to": sub.id, "kind": "async", "classes": classes})
                edges.append({"from": sub.id, "to": sub.to, "kind": "async", "classes": classes})
        else:  # a stream feeds every consumer group's service; the other kinds their one consumer
            readers = dict.fromkeys([link.target, *(group.to for group in link.groups)])
            edges += [{"from": link.id, "to": to, "kind": "async", "classes": classes} for to in readers]
    if topology.dead_letters:
        label, at = topology.dead_letters
        nodes.append({"id": "dlq", "label": label, "kind": "dlq", "x": at[0], "y": at[1]})
    return {"nodes": nodes, "edges": edges}


def view_spec(topology: Topology) -> dict[str, Any]:
    """What the page shows for this experiment: its request classes, the charts the document asks for and its topic
    subscriptions (the page's subscriptions table)."""
    workload = topology.workload
    charts = list(topology.view.get("charts") or [])
    if not charts:
        charts = [{"kind": "latency"}, {"kind": "throughput"}]
        if topology.queues():
            charts.append({"kind": "queue_depth", "series": topology.queues()})
        if topology.pools():
            charts.append({"kind": "pool_usage", "series": topology.pools()})
        charts.append({"kind": "histogram"})
        charts += [{"kind": "breaker_lane", "target": t} for t in topology.breaker_targets()]
    for chart in charts:
        if chart["kind"] == "queue_depth" and "series" not in chart:
            chart["series"] = topology.queues()
        if chart["kind"] == "pool_usage" and "series" not in chart:
            chart["series"] = topology.pools()
    return {
        "entry": workload.entry,
        "group_by": workload.group_by,
        "groups": [c.name for c in workload.classes],
        "class_param": workload.select_param,
        "all_classes_value": workload.together,
        "charts": charts,
        "panels": [_panel_view(topology, panel) for panel in topology.view.get("panels", ())],
        "sagas": saga_specs(topology),
        "subscriptions": [
            {"id": sub.id, "topic": link.id, "to": sub.to, "durable": sub.durable}
            for link in topology.links.values()
            if link.kind == "topic"
            for sub in link.subscriptions
        ],
        # live counters of each effect an `effect_once` invariant counts (static/lab/effects.js)
        "effects": [{"event": i["event"]} for i in topology.invariants if i["kind"] == "effect_once"],
        "streams": [
            {
                "link": link.id,
                "label": link.label,
                "partitions_param": f"{link.id}.partitions",
                "groups": [{"id": group.id, "to": group.to} for group in link.groups],
            }
            for link in topology.links.values()
            if link.kind == "stream"
        ],
    }


def saga_specs(topology: Topology) -> list[dict[str, Any]]:
    """Every saga the document defines, for the page's state machines and instance timelines: its name (as
    `saga.started` says it), the service running it, whether it is a choreography participant (`reaction`: it runs
    in a consumer), its forward steps and each one's compensation (null: never undone), and the request class
    whose steps hold it (null for a reaction)."""
    found: list[dict[str, Any]] = []

    def walk(steps: tuple[Step, ...], service: str, reaction: bool, request_class: str | None) -> None:
        for step in steps:
            if step.kind == "saga" and not step.options.get("undo"):
                found.append(
                    {
                        "name": str(step.options.get("name") or service),
                        "service": service,
                        "reaction": reaction,
                        "class": request_class,
                        "steps": [step_name(child) for child in step.children],
                        "compensations": [
                            step_name(child.compensation) if child.compensation else None for child in step.children
                        ],
                    }
                )
            walk(step.children, service, reaction, request_class)

    for request_class in topology.workload.classes:
        walk(request_class.steps, topology.workload.entry, False, request_class.name)
    for service in topology.services.values():
        walk(service.steps, service.id, False, None)
        for steps in service.on.values():
            walk(steps, service.id, True, None)
    return found


def _panel_view(topology: Topology, panel: dict[str, Any]) -> dict[str, Any]:
    """A panel as the page gets it: its link's label and, for a projection, the stream's projecting groups (consumer
    label, the rebuild switch, whether the projector checks versions)."""
    if "link" not in panel:  # a panel of the whole run: the dead letters
        return {**panel, "label": topology.dead_letters[0] if topology.dead_letters else "Dead letters"}
    if panel["link"] in topology.scalable_queues():  # a consumers panel: of a queue or a topic's subscription
        return {**panel, "label": topology.scalable_queues()[panel["link"]][0]}
    link = topology.links[panel["link"]]
    found = {**panel, "label": link.label}
    if panel["kind"] == "projection":
        found["groups"] = [
            {
                "id": group.id,
                "label": topology.services[group.to].label,
                "rebuild_param": f"{link.id}.{group.id}.rebuild",
                "checks_version": _checks_version(topology.services[group.to], link.id),
            }
            for group in projected_groups(link, topology.services)
        ]
    return found


def _checks_version(service: Service, link: str) -> bool:
    """Whether every `project` step of the stream in the service's handlers skips versions its row already has."""
    handlers = (service.steps, *service.on.values())
    projects = [s for steps in handlers for s in _walk(steps) if s.kind == "project" and s.target == link]
    return all(s.options.get("check_version", True) is not False for s in projects)
