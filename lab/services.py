"""Writes for the lab: start a run (validated and admitted), toggle it, stop it, save it when it ends."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import partial
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from comms_lab import learner_state
from comms_lab.learners import Learner
from comms_lab.redis_client import redis_client, rkey
from lab.engine.driver import DRAIN_GRACE_S
from lab.events import RunEventLog, emit
from lab.model.catalog import DEFAULT_EXPERIMENT, EXPERIMENTS, Experiment
from lab.model.cost import offered_load
from lab.model.failures import resumes_delivery
from lab.model.invariants import check_invariants, findings
from lab.model.metrics import summarize
from lab.model.schema import ConfigError
from lab.model.topology import TopologyError, parse_topology
from lab.models import Run
from lab.runstate import RunState

# Admit a run if the learner and everyone have run slots left and the machine has room for its offered load.
# KEYS: learner's runs, everyone's runs (scores are expiry times), everyone's runs' costs, the address's runs,
# every run's address.
_ADMIT = """
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])) do
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[5], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[8]) then
  return {4, redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')[2], '0'}
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
  return {1, redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2], '0'}
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return {2, redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2], '0'}
end
local load = 0
for _, cost in ipairs(redis.call('HVALS', KEYS[3])) do load = load + tonumber(cost) end
if load > 0 and load + tonumber(ARGV[6]) > tonumber(ARGV[7]) then
  return {3, redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2], tostring(load)}
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
redis.call('EXPIRE', KEYS[4], math.ceil(tonumber(ARGV[3]) - tonumber(ARGV[1])))
redis.call('HSET', KEYS[3], ARGV[2], ARGV[6])
redis.call('HSET', KEYS[5], ARGV[2], KEYS[4])
return {0, '0', '0'}
"""
# A run still open this long after its load should have ended has lost the worker that was driving it.
ABANDONED_AFTER_S = DRAIN_GRACE_S + 60
# How long a saved run's log stays in Redis for pages still watching; replays later come from the database.
SAVED_LOG_TTL_S = 3600
# A run may wait this long for a worker to pick it up or take it over before it is called interrupted.
NO_DRIVER_GRACE_S = 3


class AdmissionError(Exception):
    """The lab is full for this learner or for everyone; `retry_after_s` says when a slot frees up."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _learner_runs_key(learner: Learner) -> str:
    return rkey("lab", "active", learner.key)


def _global_runs_key() -> str:
    return rkey("lab", "active", "all")


def _global_costs_key() -> str:
    return rkey("lab", "active", "costs")


def _address_runs_key(address: str) -> str:
    return rkey("lab", "active", "address", address or "unknown")


def _run_addresses_key() -> str:
    return rkey("lab", "active", "addresses")


def adopt_admissions(anonymous: Learner, user: Learner) -> None:
    """At log-in, the anonymous learner's running runs count against the account, so signing in mid-run never
    frees extra slots."""
    client = redis_client()
    held = cast(list[tuple[str, float]], client.zrange(_learner_runs_key(anonymous), 0, -1, withscores=True))
    if held:
        client.zadd(_learner_runs_key(user), dict(held))
        client.delete(_learner_runs_key(anonymous))


def experiment_for(run: Run) -> Experiment:
    """A run's experiment: its own stored document (learner-made or saved with it), else the built-in one."""
    if run.topology:
        return Experiment(parse_topology(run.topology, source=f"run {run.id}"))
    return EXPERIMENTS[run.experiment]


def resolve_config(
    experiment_slug: str | None,
    preset_slug: str | None,
    config: dict[str, Any],
    *,
    topology: dict[str, Any] | None = None,
) -> tuple[Experiment, str, dict[str, Any]]:
    """Defaults, then the preset, then the learner's own values; every field checked against its schema."""
    if topology is not None:
        try:
            experiment = Experiment(parse_topology(topology, source="topology"))
        except TopologyError as exc:
            raise ConfigError({f"topology.{path}": message for path, message in exc.errors.items()}) from exc
    else:
        if experiment_slug is None and preset_slug is None:
            experiment_slug = DEFAULT_EXPERIMENT
            preset_slug = EXPERIMENTS[DEFAULT_EXPERIMENT].default_preset or None
        found = EXPERIMENTS.get(experiment_slug or DEFAULT_EXPERIMENT)
        if found is None:
            raise ConfigError({"experiment": f"unknown experiment; one of {', '.join(EXPERIMENTS)}"})
        experiment = found
    preset = None
    if preset_slug is not None:
        preset = experiment.preset(preset_slug)
        if preset is None:
            names = ", ".join(p.slug for p in experiment.presets) or "none"
            raise ConfigError({"preset": f"unknown preset for {experiment.slug}; one of {names}"})
    clean = experiment.schema.validate(config)
    errors = {}
    if clean.get("duration", 0) > settings.LAB_MAX_DURATION_S:
        errors["config.duration"] = f"must be a whole number from 5 to {settings.LAB_MAX_DURATION_S} s"
    if clean.get("rate", 0) > settings.LAB_MAX_RATE_RPS:
        errors["config.rate"] = f"must be a number from 0.5 to {settings.LAB_MAX_RATE_RPS} requests/s"
    if errors:
        raise ConfigError(errors)
    merged = {**experiment.schema.defaults(), **(preset.config if preset else {}), **clean}
    return experiment, preset.slug if preset else "", merged


def admit(learner: Learner, run_id: str, duration_s: float, *, cost: float, address: str = "") -> None:
    """Take a run slot for the learner and their address, or raise AdmissionError saying why and how long to
    wait. The address cap stops one client from filling the lab with fresh anonymous sessions."""
    now = time.time()
    expires = now + duration_s + DRAIN_GRACE_S + 30
    script = redis_client().register_script(_ADMIT)
    code, earliest, load = script(
        keys=[
            _learner_runs_key(learner),
            _global_runs_key(),
            _global_costs_key(),
            _address_runs_key(address),
            _run_addresses_key(),
        ],
        args=[
            now,
            run_id,
            expires,
            settings.LAB_MAX_RUNS_PER_LEARNER,
            settings.LAB_MAX_CONCURRENT_RUNS,
            cost,
            settings.LAB_CAPACITY,
            settings.LAB_MAX_RUNS_PER_ADDRESS,
        ],
    )
    if int(code) == 0:
        return
    wait = max(1, int(float(earliest) - now - DRAIN_GRACE_S - 30) + 1)
    if int(code) == 1:
        raise AdmissionError(f"The lab is at its limit of {settings.LAB_MAX_CONCURRENT_RUNS} runs at once.", wait)
    if int(code) == 4:
        raise AdmissionError(
            f"Your network address already has {settings.LAB_MAX_RUNS_PER_ADDRESS} runs going; wait for one to end.",
            wait,
        )
    if int(code) == 3:
        used, asked = 100 * float(load) / settings.LAB_CAPACITY, 100 * cost / settings.LAB_CAPACITY
        raise AdmissionError(
            f"The lab is busy: runs going now use {used:.0f}% of what this machine can simulate faithfully and"
            f" yours needs {asked:.0f}%. A lower request rate needs less; or retry in about {wait} s.",
            wait,
        )
    raise AdmissionError(
        f"You already have {settings.LAB_MAX_RUNS_PER_LEARNER} runs going; wait for one to end or stop it.", wait
    )


def task_budget(cost: float, duration_s: float) -> int:
    """Broker deliveries a run may make: ten times what its admission expects, so retries and redeliveries fit
    while a design that amplifies messages without end is stopped (its excess dead-lettered with the reason)."""
    return max(2_000, int(10 * cost * duration_s))


def forget_run(run_id: str) -> None:
    """Drop every trace of a run whose row is gone: its slot, its cost and all its keys."""
    pipe = redis_client().pipeline()
    pipe.zrem(_global_runs_key(), run_id)
    pipe.hdel(_global_costs_key(), run_id)
    pipe.execute()
    RunState(run_id).cleanup(everything=True)


def release_admission(run: Run) -> None:
    learner = Learner(user_id=run.user_id, anonymous_id=run.anonymous_id)
    pipe = redis_client().pipeline()
    pipe.zrem(_learner_runs_key(learner), str(run.id))
    pipe.zrem(_global_runs_key(), str(run.id))
    pipe.hdel(_global_costs_key(), str(run.id))
    pipe.hget(_run_addresses_key(), str(run.id))
    pipe.hdel(_run_addresses_key(), str(run.id))
    address_key = pipe.execute()[3]
    if address_key:
        redis_client().zrem(address_key, str(run.id))


def start_run(
    *,
    learner: Learner,
    experiment: str | None,
    preset: str | None,
    config: dict[str, Any],
    topology: dict[str, Any] | None = None,
    address: str = "",
) -> Run:
    """Validate, admit, save and enqueue a run. Raises ConfigError or AdmissionError."""
    exp, preset_slug, merged = resolve_config(experiment, preset, config, topology=topology)
    run = Run(
        experiment=exp.slug,
        preset=preset_slug,
        config=merged,
        topology=exp.topology.document,
        user_id=learner.user_id,
        anonymous_id=learner.anonymous_id,
    )
    cost = offered_load(exp.topology, merged)
    admit(learner, str(run.id), merged["duration"], cost=cost, address=address)
    try:
        with transaction.atomic():
            run.save()
            live = {p.name: merged[p.name] for p in exp.schema.params if p.live}
            RunState(str(run.id)).init(
                experiment=exp.slug,
                preset=preset_slug,
                config=merged,
                live=live,
                topology=exp.topology.document,
                learner=learner.key,
                task_budget=task_budget(cost, merged["duration"]),
            )
            from lab.tasks import drive_run

            transaction.on_commit(partial(drive_run.delay, str(run.id)))
    except Exception:
        release_admission(run)
        raise
    return run


def claim_run(run_id: str) -> tuple[str, list[tuple[float, dict[str, Any]]]] | None:
    """Mark a queued run as running; its preset and scripted toggles, or None if it was already taken or closed."""
    claimed = Run.objects.filter(pk=run_id, status=Run.Status.QUEUED).update(
        status=Run.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    run = Run.objects.get(pk=run_id)
    learner_state.changed(learner_state.owner_key(run))  # update() sends no signal
    return run.preset, run_script(run_id) or []


def run_script(run_id: str) -> list[tuple[float, dict[str, Any]]] | None:
    """The toggles the run's preset applies by itself, as (second, values); None if its row is gone."""
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        forget_run(run_id)
        return None
    preset = experiment_for(run).preset(run.preset) if run.preset else None
    return [(step.at, step.values) for step in (preset.script if preset else ())]


def service_of(param: str, experiment: Experiment) -> str | None:
    head, _, tail = param.partition(".")
    return head if tail and head in experiment.topology.services else None


def toggle_values(message: dict[str, Any]) -> dict[str, Any]:
    """The values a toggle request asks for: `{"name": n, "value": v}` or `{"values": {n: v, ...}}`."""
    values = message.get("values")
    if values is None and "name" in message:
        values = {message["name"]: message.get("value")}
    if not isinstance(values, dict):
        raise ConfigError({"values": 'give {"name": ..., "value": ...} or {"values": {name: value}}'})
    return values


def apply_toggles(run: Run, values: dict[str, Any], *, by: str) -> list[dict[str, Any]]:
    """Change live knobs of a running run; takes effect at the services' next step and is logged as an event."""
    if not run.is_active:
        raise ConfigError({"run": f"the run is {run.status}; toggles apply only while it runs"})
    experiment = experiment_for(run)
    clean = experiment.schema.validate(values, prefix="", live_only=True)
    if not clean:
        raise ConfigError({"values": "give at least one parameter to change"})
    state = RunState(str(run.id))
    _check_rewind_offsets(experiment, state, clean)
    now = state.elapsed()
    touched = {s for s in (service_of(k, experiment) for k in clean) if s}
    stamped = dict(clean)
    for service in touched:
        stamped[f"{service}.schedule_since"] = round(now, 3)
        state.reset_call_index(service)
    state.set_live(stamped)
    logged = emit(str(run.id), [{"type": "toggle", "t": round(now, 3), "values": clean, "by": by}])
    if resumes_delivery(clean):
        from lab.tasks import dispatch

        dispatch.delay(str(run.id))  # a consumer or subscriber is back, or more consumers, or with room
    return logged


def redrive_dead_letters(run: Run, *, queue: str | None, message_ids: list[str] | None) -> list[dict[str, Any]]:
    """Put dead letters back on their queues (all, one queue's, or the listed ones) while the run goes; each is
    delivered afresh, so it is processed once its consumer can handle it. A stream's dead-lettered entry (its queue
    is `<stream>/<group>`) goes back to a consumer of its group, processed out of band: the group's offset moved on
    past it when it was dead-lettered. Logs `dlq.redriven` for each."""
    if not run.is_active:
        raise ConfigError({"run": f"the run is {run.status}; dead letters can be re-driven only while it runs"})
    topology = experiment_for(run).topology
    streams = [link for link in topology.links.values() if link.kind == "stream"]
    queues = topology.queues() + [f"{link.id}/{group.id}" for link in streams for group in link.groups]
    if queue is not None and queue not in queues:
        raise ConfigError({"queue": f"names no queue of this experiment; one of {', '.join(queues)}"})
    wanted = set(message_ids) if message_ids is not None else None
    moved = RunState(str(run.id)).redrive(
        lambda entry: (
            entry.get("queue") in queues
            and (queue is None or entry["queue"] == queue)
            and (wanted is None or entry.get("message_id") in wanted)
        )
    )
    if not moved:
        return []
    now = round(RunState(str(run.id)).elapsed(), 3)
    logged = emit(str(run.id), [{"type": "dlq.redriven", "t": now, **message} for message in moved])
    from lab.tasks import deliver, dispatch

    stream_entries = [(str(run.id), m["queue"], m) for m in moved if m.get("via") == "stream"]
    if stream_entries:
        deliver.delay(stream_entries)
    dispatch.delay(str(run.id))
    return logged


def _check_rewind_offsets(experiment: Experiment, state: RunState, values: dict[str, Any]) -> None:
    """A consumer group can only rewind to an offset its stream has: from 0 to the end of its longest partition."""
    errors = {}
    for link in experiment.topology.links.values():
        for group in link.groups if link.kind == "stream" else ():
            name = f"{link.id}.{group.id}.rewind_to"
            if name in values and values[name] > (end := state.stream_end(link.id)):
                errors[name] = (
                    f"must be an offset in stream {link.id}, from 0 to {end} (the end of its longest partition now),"
                    f" got {values[name]}"
                )
    if errors:
        raise ConfigError(errors)


def apply_toggles_by_id(run_id: str, values: dict[str, Any], *, by: str) -> None:
    """A preset's scripted toggle, from the driver; nothing to do once the run is closed or deleted."""
    run = Run.objects.filter(pk=run_id).first()
    if run is not None and run.is_active:
        apply_toggles(run, values, by=by)


def request_stop(run: Run) -> None:
    if run.is_active:
        RunState(str(run.id)).request_stop()


def finish_run(run_id: str, *, load_seconds: float, status: str = Run.Status.FINISHED, reason: str = "") -> Run | None:
    """Summarise the log, announce the end, store config, summary and events, and free the run's slot.

    Idempotent: only the first caller closes the run; later ones get it as it was saved. A run whose learner
    deleted their account meanwhile has no row left: its working state is dropped and None returned.
    """
    closing = Run.objects.filter(pk=run_id, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).update(
        status=Run.Status.CLOSING
    )
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        forget_run(run_id)
        return None
    if not closing:
        return run
    learner_state.changed(learner_state.owner_key(run))  # update() sends no signal
    log = RunEventLog(run_id)
    topology = experiment_for(run).topology
    group_by = topology.workload.group_by
    events = log.after(0)
    summary = summarize(events, duration_s=load_seconds, group_by=group_by)
    summary["invariants"] = check_invariants(topology.invariants, events, summary, group_by=group_by)
    summary["fidelity"] = RunState(run_id).fidelity()
    summary["findings"] = findings(summary, group_by=group_by, events=events)
    # What was done to the run, kept beside its numbers so grading can tell a full preset run from a cut or
    # altered one without reading the whole log: seconds of load played (short of `duration` when stopped) and
    # every toggle, the preset's and the learner's.
    summary["load_s"] = round(load_seconds, 3)
    summary["toggles"] = [{k: e[k] for k in ("t", "values", "by")} for e in events if e["type"] == "toggle"]
    state = RunState(run_id)
    if reason:
        summary["ended_because"] = reason
    end = {"type": "run.finished", "t": round(state.elapsed(), 3), "status": status, "summary": summary}
    emit(run_id, [{**end, "reason": reason} if reason else end])
    run.status = status
    run.summary = summary
    run.finished_at = timezone.now()
    run.store_events(events + log.after(events[-1]["seq"] if events else 0))  # + run.finished and any late event
    run.save(update_fields=["status", "summary", "finished_at", "event_log", "event_count"])
    release_admission(run)
    state.cleanup()
    log.keep_for(SAVED_LOG_TTL_S)  # the database has it now; Redis keeps it a while for pages still open
    return run


def close_if_abandoned(run: Run) -> Run:
    """Close a run nobody can drive any more, keeping what it logged, so it neither stays "running" forever nor
    holds the learner's slot: `interrupted` as soon as no worker is alive to take it over, `failed` if it
    somehow outlived its whole time budget."""
    if run.status not in (Run.Status.QUEUED, Run.Status.RUNNING):
        return run
    waited = (timezone.now() - run.created_at).total_seconds()
    if waited > NO_DRIVER_GRACE_S and not engines_alive() and not driver_alive(str(run.id)):
        reason = (
            "no lab worker is running to drive it"
            if run.status == Run.Status.QUEUED
            else ("its worker stopped and no other worker is alive to take it over")
        )
        closed = finish_run(
            str(run.id), load_seconds=run.config["duration"], status=Run.Status.INTERRUPTED, reason=reason
        )
        return closed or run
    due = run.created_at + timedelta(seconds=run.config["duration"] + ABANDONED_AFTER_S)
    if timezone.now() < due:
        return run
    return finish_run(str(run.id), load_seconds=run.config["duration"], status=Run.Status.FAILED) or run


def engines_alive() -> bool:
    """Any worker's engine has beaten in the last few seconds (lab/engine/watchdog.py)."""
    return next(redis_client().scan_iter(rkey("lab", "engines", "*"), count=100), None) is not None


def driver_alive(run_id: str) -> bool:
    return bool(redis_client().exists(rkey("run", run_id, "driver")))
