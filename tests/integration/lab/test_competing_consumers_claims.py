"""What the competing-consumers presets say a run shows, checked in numbers over three seeds on the virtual clock
(real Redis, exact times): one consumer per message, throughput up to the producer's rate, prefetch stranding
jobs behind a slow consumer, poison messages dead-lettered after exactly their maximum deliveries and processed
once re-driven, and a burst levelled by the queue."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from lab.model.catalog import EXPERIMENTS
from lab.runstate import RunState
from tests.support.engine import VirtualLab, depth_at, run_preset

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("redis_server")]
SEEDS = (1, 2, 3)
SLUG = "competing-consumers"


def holds(summary: dict[str, Any]) -> dict[str, bool]:
    return {i["name"]: i["holds"] for i in summary["invariants"]}


def of_type(events: list[dict[str, Any]], kind: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())]


@pytest.mark.parametrize("seed", SEEDS)
async def test_three_workers_process_every_job_exactly_once_and_split_the_work(seed: int) -> None:
    summary, events = await run_preset(
        SLUG, "three-workers", seed=seed, alongside=SEEDS, duration=10, arrival="poisson"
    )
    jobs = summary["messages"]["jobs"]
    assert jobs["processed"] == jobs["published"] >= 70
    takers: dict[str, set[int]] = {}
    for e in of_type(events, "message.processed", outcome="ok"):
        takers.setdefault(e["message_id"], set()).add(e["consumer"])
    assert all(len(consumers) == 1 for consumers in takers.values())
    processed = Counter(e["message_id"] for e in of_type(events, "message.processed", outcome="ok"))
    assert set(processed.values()) == {1}
    assert all(n >= jobs["processed"] / 5 for n in jobs["by_consumer"].values()) and len(jobs["by_consumer"]) == 3
    assert summary["max_queue_depth_by_queue"]["jobs"] <= 8  # "near empty": a handful at most
    assert holds(summary) == {"exactly_once": True, "no_dead_letters": True}


@pytest.mark.parametrize("seed", SEEDS)
async def test_throughput_grows_with_workers_until_it_reaches_the_producers_rate(seed: int) -> None:
    rates = {}
    for consumers in (1, 2, 6):
        summary, _ = await run_preset(
            SLUG,
            "three-workers",
            seed=seed,
            alongside=SEEDS,
            duration=6,
            rate=12,
            arrival="poisson",
            **{"jobs.consumers": consumers},
        )
        rates[consumers] = summary["messages"]["jobs"]["processed_per_s"]
    assert rates[1] == pytest.approx(5, rel=0.1)  # one worker at 200 ms a job
    assert rates[2] == pytest.approx(10, rel=0.1)
    arrived = summary["messages"]["jobs"]["published"] / 6
    assert rates[6] == pytest.approx(arrived, rel=0.1)  # capped by what the producer sends, not 30 a second


@pytest.mark.parametrize("seed", SEEDS)
async def test_one_worker_builds_a_backlog_that_three_drain_while_jobs_keep_coming(seed: int) -> None:
    # the claim is over by 20 s
    summary, events = await run_preset(SLUG, "too-few-workers", seed=seed, alongside=SEEDS, duration=20)
    depth = {t: depth_at(events, "jobs", t) for t in (10.0, 15.0, 20.0)}
    assert 60 <= depth[10.0] <= 80  # 12 a second in, 5 out, for 10 s
    assert depth[10.0] - 25 <= depth[15.0] <= depth[10.0] - 10  # 12 in, 15 out: about 3 a second less
    assert depth[15.0] - 25 <= depth[20.0] <= depth[15.0] - 10  # still draining while the jobs keep coming
    assert summary["final_queue_depth"] == 0 and summary["messages"]["jobs"]["processed"] == 240


@pytest.mark.parametrize("seed", SEEDS)
async def test_prefetch_ten_strands_jobs_behind_a_slow_worker_and_prefetch_one_does_not(seed: int) -> None:
    summary, events = await run_preset(
        SLUG, "slow-worker-prefetch", seed=seed, alongside=SEEDS, duration=15, arrival="poisson"
    )
    one, ten = summary["messages"]["jobs"], summary["messages"]["jobs-bulk"]
    assert one["published"] == ten["published"]  # side by side: the same arrivals
    assert 12_000 <= ten["wait_ms"]["max"] <= 20_000  # up to nine jobs of 2 s ahead of it in the slow worker's hands
    assert one["wait_ms"]["p50"] <= 50  # "most jobs start at once"
    assert one["wait_ms"]["p95"] <= 500  # "95% of jobs start within half a second"
    assert ten["wait_ms"]["p95"] >= 5 * one["wait_ms"]["p95"] + 5_000
    assert one["by_consumer"]["1"] < ten["by_consumer"]["1"]
    # what the consumers panels draw (consumer.load): the slow worker's prefetch-10 buffer fills up, and often (in at
    # least 45% of samples) five or more wait in it while another worker is idle; a prefetch-1 worker holds one at most
    loads = [e for e in of_type(events, "consumer.load") if e["t"] <= 15]
    bulk = [(e["held"]["jobs-bulk"], e["in_hand"]["jobs-bulk"]) for e in loads]
    assert max(held[0] for held, _ in bulk) == 10
    stranded = [held for held, hand in bulk if held[0] - hand[0] >= 5 and 0 in held[1:]]
    assert len(stranded) >= 0.45 * len(bulk) and len(bulk) >= 60
    assert max(max(e["held"]["jobs"]) for e in loads) == 1


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_poison_message_is_delivered_exactly_max_deliveries_times_then_dead_lettered(seed: int) -> None:
    summary, events = await run_preset(SLUG, "poison-message", seed=seed, alongside=SEEDS, duration=20)  # 80 jobs
    dead = of_type(events, "dlq.added")
    deliveries = Counter(e["message_id"] for e in of_type(events, "message.consumed"))
    jobs = summary["messages"]["jobs"]
    assert 0.03 <= len(dead) / jobs["published"] <= 0.17  # "about one job in ten"
    assert all(deliveries[e["message_id"]] == 3 and e["attempt"] == 3 for e in dead)
    assert {e["last_error"] for e in dead} == {"cannot handle this message (poison)"}
    assert jobs["processed"] + jobs["dead_lettered"] == jobs["published"]  # the others flowed past them
    assert holds(summary) == {"exactly_once": True, "no_dead_letters": False}


async def test_re_driven_dead_letters_are_processed_once_after_the_fix() -> None:
    document = EXPERIMENTS[SLUG].topology.document
    lab = VirtualLab(document, seed=1, **{"jobs.poison_share": 0.5})
    for number in range(1, 11):
        await lab.request("prefetch-1", number)
    await lab.clock.run_until_idle()
    await lab.toggle(jobs__poison_share=0.0)  # the fix is deployed
    moved = RunState(lab.run_id).redrive(lambda entry: entry["queue"] == "jobs")
    ctx = await lab.context()
    for message in moved:
        ctx.emit("dlq.redriven", **message)
    await lab.dispatch_all()
    events = await lab.finish()
    dead = {e["message_id"] for e in of_type(events, "dlq.added")}
    again = of_type(events, "message.processed", outcome="ok", redriven=True)
    assert len(dead) >= 3 and {e["message_id"] for e in again} == dead
    assert all(e["attempt"] == 1 for e in again) and len(again) == len(dead)
    assert RunState(lab.run_id).dead_letters() == []


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_burst_becomes_a_backlog_that_drains_at_the_workers_rate(seed: int) -> None:
    summary, events = await run_preset(SLUG, "burst", seed=seed, alongside=SEEDS)
    assert 90 <= summary["max_queue_depth_by_queue"]["jobs"] <= 120
    done = [e["t"] for e in of_type(events, "message.processed", outcome="ok")]
    after_load = [t for t in done if 10 <= t < 18]
    assert len(after_load) / 8 == pytest.approx(10, rel=0.1)  # two workers at 200 ms a job
    assert summary["latency_ms"]["p99"] <= 50  # the order service never waits for the workers
    assert summary["messages"]["jobs"]["processed"] == 200
