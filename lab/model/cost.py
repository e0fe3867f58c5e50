"""What a run will ask of the machine, from its document and config: the basis of admission by cost.

The unit is one engine operation: a request arriving, a sync call served, a message delivered through the broker
and consumed. Weights reflect what each costs a worker (a broker hop is a Celery task round trip plus its Redis
work, about three times a call served on the engine loop).
"""

from __future__ import annotations

from typing import Any

from lab.model.topology import Step, Topology

REQUEST_UNITS = 1.0
CALL_UNITS = 1.0
MESSAGE_UNITS = 3.0


def step_units(topology: Topology, steps: tuple[Step, ...], depth: int = 0) -> float:
    """Units one pass through `steps` costs, including what the services they reach do in turn."""
    if depth > 8:
        return 0.0
    units = 0.0
    for step in steps:
        link = topology.links.get(step.target)
        if step.kind == "call" and link is not None:
            units += CALL_UNITS + step_units(topology, topology.services[link.target].steps, depth + 1)
        elif step.kind in ("send", "outbox", "request") and link is not None:
            copies = len(link.subscriptions) if link.kind == "topic" else 1
            consumers = [s.to for s in link.subscriptions] or [link.target]
            for consumer in consumers[:copies]:
                units += MESSAGE_UNITS + step_units(topology, topology.services[consumer].steps, depth + 1)
        units += step_units(topology, step.children, depth + 1)
    return units


def offered_load(topology: Topology, config: dict[str, Any]) -> float:
    """Engine operations per second the run will offer at its request rate (side-by-side classes add up)."""
    workload = topology.workload
    classes = list(workload.classes)
    if workload.select_param and config.get(workload.select_param) != workload.together:
        classes = [c for c in classes if c.name == config.get(workload.select_param)]
        per_request = sum(REQUEST_UNITS + step_units(topology, c.steps) for c in classes)
    elif workload.select_param:
        per_request = sum(REQUEST_UNITS + step_units(topology, c.steps) for c in classes)
    else:  # weighted mixes: the dearest class, to stay on the safe side
        per_request = max(REQUEST_UNITS + step_units(topology, c.steps) for c in classes)
    retry = workload.retry
    if retry and config.get(f"{retry}.enabled"):
        per_request *= 1 + 0.5 * (config.get(f"{retry}.max_attempts", 1) - 1)
    return round(per_request * float(config["rate"]), 1)
