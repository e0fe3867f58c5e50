"""The stream construct's engine pieces on the real Redis, without a worker: deliveries are captured instead of
sent through Celery, so each test drives appends, takes and commits one by one and reads the exact events."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from django.conf import settings

from lab.engine.constructs import streams
from lab.engine.interpreter import Engine, RunContext
from lab.events import RunEventLog
from lab.model.topology import parse_topology
from lab.runstate import RunState
from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def stream_document(**link: Any) -> dict[str, Any]:
    return {
        "slug": "stream-engine",
        "title": "One stream, one group",
        "services": {"order": {}, "reader": {"work_ms": 5, "faults": True}},
        "links": [
            {
                "id": "orders",
                "kind": "stream",
                "from": "order",
                "to": "reader",
                "key": "order_id",
                "groups": [{"id": "readers", "to": "reader"}],
                **link,
            }
        ],
        "workload": {"entry": "order", "classes": {"order": {"steps": [{"send": "orders"}]}}},
    }


class Bench:
    """A run's state in Redis and an engine whose deliveries land in `delivered`."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.run_id = uuid.uuid4().hex
        self.delivered: list[dict[str, Any]] = []
        topology = parse_topology(document)
        config = topology.schema.defaults()
        RunState(self.run_id).init(
            experiment=topology.slug,
            preset="",
            config=config,
            live={p.name: config[p.name] for p in topology.schema.params if p.live},
            topology=document,
            learner="test",
        )
        RunState(self.run_id).redis.hset(
            RunState(self.run_id).key("meta"), mapping={"started_at": time.time(), "status": "running"}
        )
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
        self.engine = Engine(
            self.redis, deliver=lambda _r, _q, env: self.delivered.append(env), requeue=lambda *_: None
        )

    async def context(self) -> RunContext:
        return await self.engine.context(self.run_id)

    async def append(self, order: str) -> None:
        ctx = await self.context()
        link = ctx.topology.links["orders"]
        await streams.send(self.engine, ctx, link, {"correlation_id": order}, {"event": "placed"})

    async def events(self, *types: str) -> list[dict[str, Any]]:
        await (await self.context()).flush()
        return [e for e in RunEventLog(self.run_id).after(0) if e["type"] in types]


async def test_retention_trims_the_oldest_entries_and_a_group_behind_it_skips_what_is_gone() -> None:
    bench = Bench(stream_document(retention=10))
    for number in range(12):
        await bench.append(f"r{number:05d}")
    # The only instance took offset 0 at once and is busy with it; the other 11 wait. Retention keeps 10.
    assert [(env["partition"], env["offset"]) for env in bench.delivered] == [(0, 0)]
    ctx = await bench.context()
    await streams.receive(bench.engine, ctx, "orders/readers", bench.delivered[0])
    # Offset 0 is committed; 1 was trimmed away (2..11 are retained), so the group skips it and takes 2.
    assert [env["offset"] for env in bench.delivered] == [0, 2]
    skipped = await bench.events("stream.skipped")
    assert [(e["count"], e["to_offset"], e["reason"]) for e in skipped] == [(1, 2, "trimmed by retention")]
    processed = await bench.events("stream.processed")
    assert [(e["offset"], e["outcome"], e["committed"]) for e in processed] == [(0, "ok", True)]
    # Outstanding: 12 appended for one group, 1 committed, 1 skipped.
    assert await ctx.state.outstanding() == 10
    await bench.redis.aclose()


async def test_an_entry_held_by_a_worker_that_died_is_handed_out_again() -> None:
    bench = Bench(stream_document())
    await bench.append("r00001")
    await bench.append("r00002")
    first = bench.delivered[0]
    ctx = await bench.context()
    link = ctx.topology.links["orders"]
    keys = streams.StreamKeys(ctx, link)
    group = link.groups[0]
    # A worker took it 60 s ago and stopped beating (killed): its holder entry names an engine with no heartbeat.
    holder = json.dumps([f"{first['partition']}:{first['offset']}", "gone:1", time.time() - 60])
    await bench.redis.hset(keys.group(group, "holders"), first["instance"], holder)
    await streams.sample(bench.engine, ctx)
    assert [(env["partition"], env["offset"]) for env in bench.delivered] == [(0, 0), (0, 0)]
    redelivered = await bench.events("stream.redelivered")
    assert [(e["group"], e["instance"], e["offset"], e["reason"]) for e in redelivered] == [
        ("readers", 0, 0, "its worker died")
    ]
    await bench.redis.aclose()


async def test_a_live_holder_keeps_its_entry() -> None:
    bench = Bench(stream_document())
    await bench.append("r00001")
    ctx = await bench.context()
    link = ctx.topology.links["orders"]
    keys = streams.StreamKeys(ctx, link)
    holder = json.dumps(["0:0", "gone:1", time.time()])  # just taken: its worker may simply not have beaten yet
    await bench.redis.hset(keys.group(link.groups[0], "holders"), 0, holder)
    await streams.sample(bench.engine, ctx)
    assert len(bench.delivered) == 1
    assert await bench.events("stream.redelivered") == []
    await bench.redis.aclose()


async def test_the_resequencer_gives_up_on_a_missing_predecessor_after_waiting() -> None:
    document = stream_document(key="", partitions=2)
    document["services"]["reader"]["instances"] = 2
    bench = Bench(document)
    await bench.append("r00001")  # key r00001, key_seq 1, partition 0, taken by consumer 0 (never processed here)
    await bench.append("r00001")  # key_seq 2, partition 1, taken by consumer 1
    first, second = bench.delivered
    ctx = await bench.context()
    ctx.params["orders.readers.resequence"] = True
    await streams.receive(bench.engine, ctx, "orders/readers", second)
    assert [e["key_seq"] for e in await bench.events("stream.parked")] == [2]
    link = ctx.topology.links["orders"]
    parked_key = streams.StreamKeys(ctx, link).group(link.groups[0], "parked")
    entry = json.loads(cast(str, await bench.redis.hget(parked_key, "r00001|2")))
    await bench.redis.hset(parked_key, "r00001|2", json.dumps({**entry, "parked_at": time.time() - 60}))
    await streams.sample(bench.engine, ctx)
    unparked = bench.delivered[-1]
    assert (unparked["key_seq"], unparked["unparked"]) == (2, True)
    await streams.receive(bench.engine, ctx, "orders/readers", unparked)
    await streams.receive(bench.engine, ctx, "orders/readers", first)  # the predecessor turns up after all
    processed = await bench.events("stream.processed")
    assert [(e["key_seq"], e["committed"], e["out_of_order"]) for e in processed] == [
        (2, False, False),
        (1, True, True),
    ]
    reasons = [e["reason"] for e in await bench.events("stream.unparked")]
    assert reasons == ["gave up waiting for the key's previous entries"]
    assert await ctx.state.outstanding() == 0
    await bench.redis.aclose()


def orders_stream(key: str) -> dict[str, Any]:
    """Two partitions, two consumers; handling `created` takes 400 ms, `paid` 20 ms."""
    document = stream_document(key=key, partitions=2)
    document["services"]["reader"] = {"work_ms": 20, "instances": 2, "on": {"created": [{"work": 400}]}}
    steps = [{"send": "orders", "event": "created"}, {"send": "orders", "event": "paid"}]
    document["workload"]["classes"]["order"]["steps"] = steps
    return document


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        # Keyed: both events in one partition, one consumer, in order: paid waits for created.
        ("order_id", [(420, "created", 0, False), (440, "paid", 0, False)]),
        # Round-robin: created in partition 0, paid in partition 1; paid's consumer finishes first.
        ("", [(20, "paid", 1, False), (420, "created", 0, True)]),
    ],
)
async def test_on_a_virtual_clock_keyed_partitions_keep_order_and_round_robin_lets_a_fast_event_overtake(
    key: str, expected: list[tuple[int, str, int, bool]]
) -> None:
    lab = VirtualLab(orders_stream(key))
    await lab.request("order")
    events = await lab.finish()
    processed = [e for e in events if e["type"] == "stream.processed"]
    assert [
        (t, event, partition, late)
        for _, t, event, partition, late in trace(processed, "event", "partition", "out_of_order")
    ] == expected


@pytest.mark.parametrize(("idempotent", "handled"), [(True, 1), (False, 2)])
async def test_a_duplicate_delivery_runs_the_handler_twice_unless_the_consumer_is_idempotent(
    idempotent: bool, handled: int
) -> None:
    document = stream_document(idempotency="once")
    document["policies"] = {"once": {"kind": "idempotency", "idempotent": True}}
    document["services"]["reader"]["steps"] = [{"emit": "handled"}]
    lab = VirtualLab(document, **{"reader.duplicate_rate": 1.0, "once.idempotent": idempotent})
    await lab.request("order")
    events = await lab.finish()
    assert [e["skipped"] for e in events if e["type"] == "stream.duplicate"] == [idempotent]
    assert len([e for e in events if e["type"] == "service.event" and e["name"] == "handled"]) == handled


async def test_a_send_asking_for_round_robin_ignores_the_streams_key_and_the_partitions_knob_sets_how_many() -> None:
    document = orders_stream("order_id")
    send = [{"send": "orders", "event": e, "partition_by": "round_robin"} for e in ("created", "paid", "shipped")]
    document["workload"]["classes"]["order"]["steps"] = [send[0], {"work": 10}, send[1], {"work": 10}, send[2]]
    document["services"]["reader"]["instances"] = 3
    lab = VirtualLab(document, **{"orders.partitions": 3})
    ctx = await lab.context()
    await lab.request("order")
    await lab.later(1.0, lambda: streams.sample(lab.engine, ctx))  # a lag sample once all is processed
    events = await lab.finish()
    appended = [e for e in events if e["type"] == "stream.appended"]
    # Still the order's events (key and key_seq), but spread one per partition, as records without a key.
    assert [(e["event"], e["key"], e["key_seq"], e["partition"]) for e in appended] == [
        ("created", "r00001-order", 1, 0),
        ("paid", "r00001-order", 2, 1),
        ("shipped", "r00001-order", 3, 2),
    ]
    processed = [e for e in events if e["type"] == "stream.processed"]
    assert [(t, event, late) for _, t, event, late in trace(processed, "event", "out_of_order")] == [
        (30, "paid", False),
        (40, "shipped", False),
        (420, "created", True),
    ]
    ends = [e["ends"] for e in events if e["type"] == "stream.lag"][-1]
    assert ends == {"orders/0": 1, "orders/1": 1, "orders/2": 1}


async def test_an_entry_whose_attempts_run_out_is_dead_lettered_with_its_envelope_and_the_group_moves_on() -> None:
    document = stream_document(retry="retry")
    document["policies"] = {"retry": {"kind": "retry", "enabled": True, "max_attempts": 2, "delay_ms": 100}}
    lab = VirtualLab(document, **{"reader.error_rate": 1.0})
    await lab.request("order")
    events = await lab.finish()  # every event keeps its contract: a dead letter names where it came from
    dead = [e for e in events if e["type"] == "dlq.added"]
    assert [(e["from"], e["to"], e["attempt"], e["reason"]) for e in dead] == [
        ("order", "reader", 2, "reader failed 2 times")
    ]
    processed = [e for e in events if e["type"] == "stream.processed"]
    assert [(e["outcome"], e["committed"]) for e in processed] == [("dead_lettered", True)]
