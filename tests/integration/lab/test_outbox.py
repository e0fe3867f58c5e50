"""Save and publish, on the real worker: through the transactional outbox no committed write loses its message
when the order service crashes after saving; the dual write loses exactly the orders saved before each crash."""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from lab import services
from lab.models import Run
from tests.support.lab import new_learner, of_type, summary_of, wait_finished

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
DOCUMENT = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "lab" / "experiments" / "skeletons" / "outbox.yaml").read_text()
)


def start(preset: str | None = None, **config: object) -> Run:
    return services.start_run(learner=new_learner(), experiment=None, preset=preset, config=config, topology=DOCUMENT)


def verdicts(run: Run) -> dict[str, tuple[bool, int]]:
    return {i["name"]: (i["holds"], i["violations"]) for i in summary_of(run)["invariants"]}


def test_the_outbox_loses_no_write_across_crashes_while_the_dual_write_loses_every_crashed_one() -> None:
    # 20 orders each; the order service crashes right after every 4th save (5 crashes).
    outbox, dual = start("outbox-crash"), start("dual-write-crash")
    before = start(publish_mode="dual_write", **{"order.crash": "before_ack", "order.schedule": "every_kth"})
    outbox, dual, before = wait_finished(outbox), wait_finished(dual), wait_finished(before)

    events = outbox.stored_events()
    committed = [e["record"] for e in of_type(events, "db.committed", mode="outbox")]
    crashed = {e["record"] for e in of_type(events, "writer.crashed", point="after_commit")}
    published = [e["record"] for e in of_type(events, "record.published", mode="outbox")]
    assert len(committed) == 20 and len(crashed) == 5
    assert published == committed  # the relay publishes every saved order once, in commit order
    processed = Counter(e["body"]["record"] for e in of_type(events, "message.processed", outcome="ok"))
    assert set(processed) == set(committed) and set(processed.values()) == {1}
    assert verdicts(outbox) == {
        "no_lost_writes": (True, 0),
        "exactly_once": (True, 0),
        "every_request_accounted": (True, 0),
    }
    assert (summary_of(outbox)["succeeded"], summary_of(outbox)["failed"]) == (15, 5)

    events = dual.stored_events()
    saved = [e["record"] for e in of_type(events, "db.committed", mode="dual_write")]
    crashed = {e["record"] for e in of_type(events, "writer.crashed", point="after_commit")}
    sent = {e["record"] for e in of_type(events, "record.published", mode="dual_write")}
    assert len(saved) == 20 and len(crashed) == 5 and len(sent) == 15
    assert set(saved) - sent == crashed  # saved, never published: payment never hears of them
    assert len(of_type(events, "message.processed", outcome="ok")) == 15
    assert verdicts(dual)["no_lost_writes"] == (False, 5)
    assert (summary_of(dual)["succeeded"], summary_of(dual)["failed"]) == (15, 5)

    events = before.stored_events()  # crashing before the save loses the order and its message together
    assert len(of_type(events, "writer.crashed", point="before_commit")) == 4  # every 5th of 20 (schedule_n 5)
    assert len(of_type(events, "db.committed")) == len(of_type(events, "record.published")) == 16
    assert verdicts(before)["no_lost_writes"] == (True, 0)
