"""Save and publish: a transactional outbox with a relay, against the dual write it replaces.

An `outbox: <link>` step saves a record in its service's database (a per-run Redis hash) and produces one message
for it on the link. How, the step's `mode` says (or the choice parameter named by `mode_param`, so a run can flip
it live):
- `outbox` (default): the record and the message go into the database hash and the link's outbox list in one
  MULTI/EXEC transaction, with the logging of `db.committed`; a relay (a sampler of the run's driver, every
  250 ms) publishes outbox entries to the link in order and marks each sent by removing it, so a crash after the
  commit loses nothing.
- `dual_write`: the record is committed, then the message is published as a separate action; a crash between the
  two leaves a saved record whose message never goes out.
- `publish_then_save`: the dual write the other way round; a crash between the two leaves a message announcing a
  record that was never saved (an orphan).

The relay's own crash fault, `<link>.relay_crash_rate`, strikes between publishing an entry and marking it sent:
the relay restarts at its next pass and publishes that entry again (at-least-once), so consumers see it twice.

The crash point is the writing service's own `crash` fault (its `faults: true` knobs, with their schedule), applied
around the commit: `before_ack` crashes before the commit (nothing saved, nothing sent), `after_ack` crashes right
after it (the record is saved; what happens to its message is what the modes differ in), or, publishing first,
right after the publish. Either fails the step.

Events: `db.committed`, `writer.crashed`, `record.published`, `relay.crashed`, `outbox.depth`; invariant
`no_lost_writes`.
"""

from __future__ import annotations

import json
from typing import Any

from lab.engine.interpreter import SAMPLERS, Engine, RunContext, new_message_id, step_handler
from lab.engine.state import WORKING_TTL_S
from lab.model.topology import Link, Service, Step, Topology

MODES = ("outbox", "dual_write", "publish_then_save")
# How many outbox entries one relay pass publishes per link, so a backlog drains without starving sampling.
RELAY_BATCH = 200


def mode_of(ctx: RunContext, step: Step) -> str:
    """The step's mode: its `mode_param`'s live value when it names one, else its `mode`, else `outbox`."""
    param = step.options.get("mode_param")
    if param and param in ctx.params:
        return str(ctx.params[param])
    return str(step.options.get("mode", "outbox"))


def _outbox_key(ctx: RunContext, link: str) -> str:
    return ctx.state.key("outbox", link)


@step_handler("outbox")
async def save_and_publish(
    engine: Engine, ctx: RunContext, service: Service, step: Step, env: dict[str, Any]
) -> str | None:
    """Commit a record and produce its message, atomically (outbox) or as two actions (dual write)."""
    link = ctx.topology.links[step.target]
    await ctx.refresh()
    mode = mode_of(ctx, step)
    if mode not in MODES:
        return f"{service.id}: outbox mode must be one of {', '.join(MODES)}, got {mode!r}"
    record = new_message_id()
    table = str(step.options.get("table", service.id))
    where = {"service": service.id, "table": table, "record": record, "link": link.id, "mode": mode}
    where["correlation_id"] = env["correlation_id"]
    # Side by side, each request class counts its own saves, so every mode meets the same crash schedule.
    counter = f"{service.id}:write:{env[ctx.group_by]}" if ctx.group_by and ctx.group_by in env else None
    _, fault = await ctx.fault_for(service.id, env["correlation_id"], "write", record, counter=counter)
    if fault.crash == "before_ack":
        ctx.emit("writer.crashed", point="before_commit", **where)
        return f"{service.id} crashed before saving"
    entry = {
        "record": record,
        "service": service.id,
        "link": link.id,
        "mode": mode,
        "correlation_id": env["correlation_id"],
        "causation_id": env.get("message_id", env["correlation_id"]),
        "hops": env.get("hops", 0),
        "key": str(step.options.get("key", "")),
        "body": dict(step.options.get("body") or {}),
        "tag": {ctx.group_by: env[ctx.group_by]} if ctx.group_by and ctx.group_by in env else {},
        "written_at": ctx.clock.time(),
    }
    if mode == "publish_then_save":
        await publish_record(engine, ctx, link, entry)
        if fault.crash == "after_ack":  # the message is out; the order it announces is never saved
            ctx.emit("writer.crashed", point="after_publish", **where)
            return f"{service.id} crashed after publishing"
    row = json.dumps({"table": table, "correlation_id": env["correlation_id"], "at": ctx.now()})
    db = ctx.state.key("db", service.id)

    def commit(pipe: Any) -> None:
        """The row and its message, or neither, in one transaction with the logging of `db.committed`: the log's
        commits are in the outbox's order, whichever process saved them (the relay publishes in that order)."""
        pipe.hset(db, record, row)
        pipe.expire(db, WORKING_TTL_S)
        if mode == "outbox":
            pipe.rpush(_outbox_key(ctx, link.id), json.dumps(entry, separators=(",", ":")))
            pipe.expire(_outbox_key(ctx, link.id), WORKING_TTL_S)
            pipe.incrby(ctx.state.key("outstanding"), 1)  # the entry is work the run waits for until relayed

    ctx.emit("db.committed", **where)
    ctx.sink.commit_with_log(ctx.run_id, commit)
    await ctx.flush()
    if fault.crash == "after_ack" and mode != "publish_then_save":
        ctx.emit("writer.crashed", point="after_commit", **where)
        return f"{service.id} crashed after saving"
    if mode == "dual_write":
        await publish_record(engine, ctx, link, entry)
    return None


async def publish_record(engine: Engine, ctx: RunContext, link: Link, entry: dict[str, Any]) -> None:
    """Hand one saved record's message to its link (queue, topic or stream); its body names the record."""
    caller_env = {
        "correlation_id": entry["correlation_id"],
        "message_id": entry["causation_id"],
        "hops": entry["hops"],
        **entry["tag"],
    }
    options = {"key": entry["key"], "body": {**entry["body"], "record": entry["record"]}}
    await engine.publish(ctx, link, caller_env, options)
    ctx.emit(
        "record.published",
        record=entry["record"],
        service=entry["service"],
        link=link.id,
        mode=entry["mode"],
        correlation_id=entry["correlation_id"],
        waited_ms=round((ctx.clock.time() - entry["written_at"]) * 1000, 1),
    )


def outbox_links(topology: Topology) -> list[str]:
    """Links some `outbox` step writes to, in document order."""
    found: list[str] = []
    handlers = [s.steps for s in topology.services.values()]
    handlers += [steps for s in topology.services.values() for steps in s.on.values()]
    handlers += [c.steps for c in topology.workload.classes]
    for steps in handlers:
        for step in _walk(steps):
            if step.kind == "outbox" and step.target not in found:
                found.append(step.target)
    return found


def _walk(steps: tuple[Step, ...]) -> list[Step]:
    found: list[Step] = []
    for step in steps:
        found.append(step)
        found += _walk(step.children)
        if step.compensation:
            found += _walk((step.compensation,))
    return found


async def relay(engine: Engine, ctx: RunContext) -> None:
    """The outbox relay: publish each link's entries in order, marking each sent (removed) only once published.

    It runs as a sampler of the run's driver, so each run has exactly one relay, in one process.
    """
    links = outbox_links(ctx.topology)
    if not links:
        return
    await ctx.refresh()
    depths = {}
    for link_id in links:
        key = _outbox_key(ctx, link_id)
        for _ in range(RELAY_BATCH):
            raw = await ctx.state.redis.lindex(key, 0)
            if raw is None:
                break
            entry = json.loads(raw)
            await publish_record(engine, ctx, ctx.topology.links[link_id], entry)
            if _relay_crashes(ctx, link_id, entry):  # published, never marked sent: the next pass sends it again
                ctx.emit("relay.crashed", link=link_id, record=entry["record"], correlation_id=entry["correlation_id"])
                # the simulator's own tally of sends, so the next pass rolls fresh dice for this entry
                await ctx.state.redis.lset(key, 0, json.dumps({**entry, "sends": entry.get("sends", 0) + 1}))
                break
            await ctx.state.redis.lpop(key)  # marked sent
            await ctx.settle(-1)
        depths[link_id] = int(await ctx.state.redis.llen(key))
    ctx.emit("outbox.depth", depths=depths)


def _relay_crashes(ctx: RunContext, link_id: str, entry: dict[str, Any]) -> bool:
    """The relay's crash fault (`<link>.relay_crash_rate`): dice per request, link and send (record ids are
    random), so a seed replays the same crashes whatever moment each relay pass happens to run at."""
    rate = float(ctx.params.get(f"{link_id}.relay_crash_rate", 0.0) or 0.0)
    return rate > 0 and ctx.rng_for(entry["correlation_id"], link_id, "relay", entry.get("sends", 0)).random() < rate


SAMPLERS.append(relay)
