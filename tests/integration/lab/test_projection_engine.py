"""Projections on the engine's virtual clock (real Redis, exact times): a read some time after the command, and a
rebuild that wipes a read model and replays the stream into it, with the exact events each logs."""

from __future__ import annotations

from typing import Any

import pytest

from lab.engine.driver import sample
from tests.support.engine import VirtualLab, trace

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]


def projection_document(*, read_after_ms: float = 0, check_version: bool = True) -> dict[str, Any]:
    """One order service appending two events per order to a stream a projector (30 ms per event) folds."""
    return {
        "slug": "projection-engine",
        "title": "A projection",
        "services": {
            "order": {},
            "projector": {"work_ms": 30, "faults": True, "steps": [{"project": "log", "check_version": check_version}]},
        },
        "links": [
            {
                "id": "log",
                "kind": "stream",
                "from": "order",
                "to": "projector",
                "key": "order_id",
                "groups": [{"id": "rows", "to": "projector"}],
            }
        ],
        "workload": {
            "entry": "order",
            "classes": {
                "order": {
                    "steps": [
                        {"send": "log", "event": "placed", "body": {"total": 80}},
                        {
                            "send": "log",
                            "event": "paid",
                            "body": {"paid": True},
                            "read": "rows",
                            "read_after_ms": read_after_ms,
                        },
                    ]
                }
            },
        },
    }


async def test_a_read_made_after_the_projector_had_time_is_fresh_and_one_made_at_once_is_stale() -> None:
    for read_after_ms, stale, version in ((0, True, 0), (100, False, 2)):
        lab = VirtualLab(projection_document(read_after_ms=read_after_ms))
        await lab.request("order")
        events = await lab.finish()
        reads = [e for e in events if e["type"] == "projection.read"]
        assert [(r["t"], r["stale"], r["version"], r["waited_ms"]) for r in reads] == [
            (read_after_ms / 1000, stale, version, 0.0)
        ]


async def test_a_rebuild_wipes_the_read_model_replays_every_event_once_and_switches_itself_off() -> None:
    lab = VirtualLab(projection_document(check_version=False), **{"projector.duplicate_rate": 1.0})
    await lab.request("order")
    await lab.clock.run_until_idle()
    await lab.toggle(**{"projector.duplicate_rate": 0.0, "log.rows.rebuild": True})
    await sample(await lab.context(), lab.engine)
    events = await lab.finish()
    rebuild = [e for e in events if e["type"] in ("projection.rebuilt", "toggle") and e.get("by") != "test"]
    assert [(e["type"], e.get("replay"), e.get("values")) for e in rebuild] == [
        ("projection.rebuilt", 2, None),
        ("toggle", None, {"log.rows.rebuild": False}),
    ]
    updates = [e for e in events if e["type"] == "projection.updated"]
    # Twice each before (every event delivered twice, no version check), once each after the wipe.
    rebuilt_at = next(e["t"] for e in events if e["type"] == "projection.rebuilt")
    assert [row[2:] for row in trace(updates, "key_seq", "replay", "generation", "applied")] == [
        (1, False, 0, True),
        (1, False, 0, True),
        (2, False, 0, True),
        (2, False, 0, True),
        (1, True, 1, True),
        (2, True, 1, True),
    ]
    assert [round(u["t"] - rebuilt_at, 3) for u in updates[-2:]] == [0.03, 0.06]  # 30 ms of work each
    assert [u["state"]["events"] for u in updates] == [1, 2, 3, 4, 1, 2]
    assert updates[-1]["state"]["data"] == {"total": 80, "paid": True, "order_id": "r00001-order"}


async def test_a_rebuild_waits_while_an_earlier_rewind_is_still_replaying() -> None:
    lab = VirtualLab(projection_document())
    await lab.request("order")
    await lab.clock.run_until_idle()
    await lab.toggle(**{"log.rows.rewind": True})
    ctx = await lab.context()
    await sample(ctx, lab.engine)  # the rewind: two entries to replay, none replayed yet
    await lab.toggle(**{"log.rows.rebuild": True})
    await sample(ctx, lab.engine)
    assert ctx.params["log.rows.rebuild"] is True  # still asked for: it starts once the replay is done
    await lab.clock.run_until_idle()
    await sample(ctx, lab.engine)
    events = await lab.finish()
    assert [e["type"] for e in events if e["type"] in ("stream.rewound", "projection.rebuilt")] == [
        "stream.rewound",
        "projection.rebuilt",
    ]
