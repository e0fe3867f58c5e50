"""The run events' contract: one place that names every event type, the fields it always carries and those some
of its events add.

The engine emits them, the metrics and invariants fold them, the page draws them (and shows each type's meaning in
its event log, from `contract_json`) and lab-graded questions grade from their summary; tests check every event a run
emits against this table, so a field cannot quietly vanish, and every type and field the page's modules read
against it (tests/unit/lab/test_page_event_contract.py), so the page cannot quietly read one that is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENVELOPE = frozenset({"message_id", "correlation_id", "from", "to", "attempt"})


@dataclass(frozen=True)
class EventSpec:
    meaning: str
    fields: frozenset[str] = frozenset()
    # Carried by some events of the type only (a construct's or a mode's own), so `problems` cannot demand them.
    optional: frozenset[str] = frozenset()


def _spec(meaning: str, *fields: str, envelope: bool = False, optional: tuple[str, ...] = ()) -> EventSpec:
    return EventSpec(meaning, frozenset(fields) | (ENVELOPE if envelope else frozenset()), frozenset(optional))


EVENTS: dict[str, EventSpec] = {
    # the run
    "run.started": _spec("The driver began the run.", "experiment", "preset", "config"),
    "run.finished": _spec("The run ended; its summary is final.", "status", "summary"),
    "toggle": _spec(
        "Live parameters changed (by the learner, the preset, the run's end, or the engine ending a one-shot switch).",
        "values",
        "by",
    ),
    "driver.takeover": _spec("Another worker took the run over after its driver died.", "by", "lost"),
    "fidelity": _spec("How late simulated waits ended, as a share of all waiting.", "lag_pct", "ok"),
    "handler.error": _spec(
        "A handler raised: counted as a failure, never a silent stall.",
        "error",
        optional=("correlation_id", "message_id"),
    ),
    # requests and sync calls
    "request.created": _spec("A client request arrived.", "correlation_id", optional=("mode", "path")),
    "request.attempt": _spec("The entry service began an attempt at a request.", "correlation_id", "attempt"),
    "request.finished": _spec("A request got its answer.", "correlation_id", "outcome", "latency_ms", "reason"),
    "request.lost": _spec("A request died with its worker; counted as unfinished.", "correlation_id", "reason"),
    "retry.scheduled": _spec(
        "A failed attempt or delivery will be retried after a backoff.",
        "delay_ms",
        "next_attempt",
        optional=("correlation_id",),
    ),
    "call.started": _spec("A sync call left its caller.", "kind", envelope=True),
    "call.finished": _spec(
        "A sync call returned to its caller.", "kind", "outcome", "duration_ms", envelope=True, optional=("reason",)
    ),
    "breaker.state": _spec("A circuit breaker changed state.", "target", "from", "to", "reason"),
    "pool.usage": _spec(
        "Sample (when a figure changed, and once a second): leases held per pool, seconds each pool has had every "
        "thread taken so far, and breaker states.",
        "pools",
        "full_s",
        "breakers",
        "breaker",
    ),
    "service.event": _spec("A service's `emit` step.", "service", "name", "correlation_id"),
    # queues and topics
    "message.published": _spec("A message was put on a queue or subscription.", "queue", envelope=True),
    "message.dropped": _spec("The network lost a message in transit.", envelope=True),
    "message.missed": _spec(
        "A non-durable subscription got no copy of a matching publish: its subscriber was away.",
        "subscription",
        "reason",
        "correlation_id",
        "from",
        "to",
    ),
    "message.consumed": _spec("A consumer instance took a message.", "queue", envelope=True),
    "message.processed": _spec(
        "A consumer finished with a message.",
        "outcome",
        envelope=True,
        optional=("queue", "consumer", "duplicate", "redriven"),
    ),
    "message.redelivered": _spec("A message a dead worker held went back to its queue.", "reason", envelope=True),
    "dlq.added": _spec(
        "A message went to the dead-letter queue.", "reason", envelope=True, optional=("queue", "last_error")
    ),
    "queue.depth": _spec(
        "Sample (when a depth changed, and once a second): messages waiting per queue, and dead letters.",
        "depths",
        "dlq",
    ),
    "consumer.load": _spec(
        "Sample: messages each consumer of a scalable queue holds (prefetched or in hand), and its one in hand.",
        "held",
        "in_hand",
    ),
    "dlq.redriven": _spec(
        "A dead letter was put back on its queue, its deliveries counted afresh.", "queue", envelope=True
    ),
    # request-reply and the outbox (lab/engine/constructs/replies.py, outbox.py)
    "request.sent": _spec(
        "A request left for its responder, with a deadline.", "request_id", "deadline_ms", optional=("queue",)
    ),
    "reply.sent": _spec("A responder answered.", "in_reply_to", "outcome"),
    "reply.received": _spec("A reply completed its own request.", "request_id", "in_reply_to", "latency_ms"),
    "reply.timeout": _spec("A request's deadline passed with no reply.", "request_id", "deadline_ms"),
    "reply.late": _spec("A reply after its deadline (or a second one), dropped.", "in_reply_to"),
    "db.committed": _spec("A service saved a record.", "record", "mode"),
    "record.published": _spec("A saved record's message was published.", "record", "mode"),
    "writer.crashed": _spec("A writer crashed around its save.", "record", "point"),
    "outbox.depth": _spec("Sample: entries waiting in each outbox.", "depths"),
    "relay.crashed": _spec("The outbox relay crashed after a publish, before marking it sent.", "link", "record"),
    # streams and projections (lab/engine/constructs/streams.py)
    "stream.appended": _spec(
        "An event was appended to a stream partition.", "link", "partition", "offset", "key_seq", optional=("key",)
    ),
    "stream.consumed": _spec("A group's consumer took an entry.", "link", "group", "partition", "offset"),
    "stream.processed": _spec(
        "A group finished an entry.",
        "link",
        "group",
        "partition",
        "offset",
        "outcome",
        "correlation_id",
        "attempt",
        "out_of_order",
        optional=("redriven",),
    ),
    "stream.skipped": _spec("Retention dropped entries a group had not read.", "link", "group", "count"),
    "stream.rewound": _spec("A group's offset moved back to replay.", "link", "group", "to_offset"),
    "stream.lag": _spec("Sample: entries behind per group and partition, and each partition's end.", "lags", "ends"),
    "stream.rebalanced": _spec(
        "Partitions were reassigned to a group's consumers.", "link", "group", "consumers", "assignment"
    ),
    "stream.redelivered": _spec("An entry a dead worker held was handed out again.", "link", "group", "offset"),
    "stream.parked": _spec("An entry that overtook its key's previous one waits.", "link", "group", "offset"),
    "stream.unparked": _spec("A parked entry is processed.", "link", "group", "offset"),
    "stream.duplicate": _spec("An entry already processed was seen again.", "link", "group", "offset"),
    "projection.updated": _spec(
        "A read model took an event in.", "link", "group", "key", "applied", "state", "generation", "lag_ms"
    ),
    "projection.read": _spec("A query read the read model.", "link", "group", "key", "stale"),
    "projection.rebuilt": _spec("A read model was wiped to be replayed from the log.", "link", "group", "replay"),
    # sagas and aggregators (lab/engine/constructs/sagas.py, aggregator.py)
    "saga.started": _spec("A saga instance began.", "saga", "correlation_id", "name", "service", "steps", "reaction"),
    "saga.step": _spec(
        "A saga step ended.",
        "saga",
        "correlation_id",
        "step",
        "index",
        "outcome",
        "compensable",
        optional=("hands_to",),
    ),
    "saga.compensating": _spec(
        "A saga began undoing its completed steps.", "saga", "correlation_id", "failed_step", "steps"
    ),
    "saga.compensation": _spec(
        "One compensation ran.", "saga", "correlation_id", "step", "compensation", "outcome", "attempt", "retry_in_ms"
    ),
    "saga.crashed": _spec("The orchestrator crashed mid-saga.", "saga", "correlation_id", "step", "moment"),
    "saga.resumed": _spec(
        "A saga resumed from its saved state.", "saga", "correlation_id", "state", "next_step", "restart"
    ),
    "saga.ended": _spec("A saga instance ended.", "saga", "state"),
    "saga.states": _spec("Sample: saga instances per state.", "counts"),
    "aggregate.arrived": _spec("An event reached an aggregator.", "aggregate", "key", "event", "outcome"),
    "aggregate.completed": _spec("An aggregator had every event for a key and acted.", "aggregate", "key"),
    "aggregate.timed_out": _spec("An aggregator gave up waiting for a key.", "aggregate", "key", "missing"),
}


def contract_json() -> dict[str, dict[str, Any]]:
    """The contract as the page and `GET /lab/api/events-contract` get it: per type, its meaning and fields."""
    return {
        kind: {"meaning": spec.meaning, "fields": sorted(spec.fields), "optional": sorted(spec.optional)}
        for kind, spec in EVENTS.items()
    }


def problems(event: dict[str, Any]) -> list[str]:
    """What is wrong with one logged event against the contract (empty when it conforms)."""
    kind = event.get("type")
    spec = EVENTS.get(str(kind))
    if spec is None:
        return [f"event type {kind!r} is not declared in lab/model/events.py"]
    missing = sorted(spec.fields - set(event))
    found = [f"{kind} lacks {', '.join(missing)}"] if missing else []
    if not isinstance(event.get("t"), int | float):
        found.append(f"{kind} has no run time t")
    return found
