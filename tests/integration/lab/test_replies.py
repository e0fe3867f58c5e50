"""Request-reply over a reply link, on the real worker: each reply completes its own request, whichever process
served it; a deadline expires a request and its late reply is counted and dropped, never matched elsewhere."""

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from comms_lab.redis_client import redis_client, rkey
from lab import services
from lab.models import Run
from tests.support.lab import new_learner, of_type, summary_of, wait_finished
from tests.support.processes import Worker

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker"), pytest.mark.django_db(transaction=True)]
DOCUMENT = yaml.safe_load(
    (Path(__file__).resolve().parents[3] / "lab" / "experiments" / "skeletons" / "request-reply.yaml").read_text()
)


def start(preset: str | None = None, **config: object) -> Run:
    return services.start_run(learner=new_learner(), experiment=None, preset=preset, config=config, topology=DOCUMENT)


def verdicts(run: Run) -> dict[str, tuple[bool, int]]:
    return {i["name"]: (i["holds"], i["violations"]) for i in summary_of(run)["invariants"]}


def assert_each_reply_completes_its_own_request(events: list[dict]) -> None:
    sent = {e["request_id"]: e for e in of_type(events, "request.sent")}
    for received in of_type(events, "reply.received"):
        assert received["in_reply_to"] == received["request_id"]
        assert received["reply_correlation_id"] == sent[received["request_id"]]["correlation_id"]
    assert max(Counter(e["request_id"] for e in of_type(events, "reply.received")).values(), default=1) == 1


@pytest.fixture
def second_worker(worker: Worker) -> Iterator[Worker]:
    """Another worker process beside the session's, so requests and their replies cross processes."""
    before = len(list(redis_client().scan_iter(rkey("workers", "*"))))
    extra = Worker(concurrency=20)
    extra.start()
    try:
        import time

        deadline = time.monotonic() + 60
        while len(list(redis_client().scan_iter(rkey("workers", "*")))) <= before:
            assert time.monotonic() < deadline, "the second worker sent no heartbeat"
            time.sleep(0.2)
        yield extra
    finally:
        extra.stop()


def test_every_reply_completes_its_own_request_even_when_another_process_served_it(second_worker: Worker) -> None:
    run = wait_finished(start("healthy", rate=10))  # 50 requests 100 ms apart; 150 ± 140 ms of work reorders replies
    events = run.stored_events()
    assert len(of_type(events, "request.sent")) == 50
    assert len(of_type(events, "reply.sent", outcome="ok")) == 50
    assert len(of_type(events, "reply.received", outcome="ok")) == 50
    assert of_type(events, "reply.timeout") == [] and of_type(events, "reply.late") == []
    assert_each_reply_completes_its_own_request(events)
    order_sent = [e["request_id"] for e in of_type(events, "request.sent")]
    order_received = [e["request_id"] for e in of_type(events, "reply.received")]
    assert order_received != order_sent and sorted(order_received) == sorted(order_sent)
    reply_to = {e["request_id"]: e["reply_to"] for e in of_type(events, "request.sent")}
    crossed = [e for e in of_type(events, "reply.sent") if e["process"] != reply_to[e["in_reply_to"]]]
    assert crossed  # served in the other worker process, still delivered to the one that asked
    assert verdicts(run) == {"no_reply_mismatched": (True, 0), "every_request_accounted": (True, 0)}
    assert summary_of(run)["succeeded"] == 50


def test_slow_replies_time_out_then_arrive_late_and_are_dropped_without_a_mismatch() -> None:
    # Every second request is slower (2.5 s) than the 2 s deadline; the others are answered in time meanwhile.
    run = wait_finished(start("slow-inventory", **{"inventory.schedule": "every_kth", "inventory.schedule_n": 2}))
    events = run.stored_events()
    timeouts = {e["request_id"] for e in of_type(events, "reply.timeout")}
    late = of_type(events, "reply.late")
    assert len(of_type(events, "request.sent")) == 20
    assert len(timeouts) == 10 and len(of_type(events, "reply.received")) == 10
    assert {e["in_reply_to"] for e in late} == timeouts and len(late) == 10
    assert all(e["late_by_ms"] > 0 and not e["duplicate"] for e in late)
    seq_of_timeout = {e["request_id"]: e["seq"] for e in of_type(events, "reply.timeout")}
    assert all(e["seq"] > seq_of_timeout[e["in_reply_to"]] for e in late)
    assert_each_reply_completes_its_own_request(events)
    assert verdicts(run) == {"no_reply_mismatched": (True, 0), "every_request_accounted": (True, 0)}
    assert (summary_of(run)["succeeded"], summary_of(run)["failed"]) == (10, 10)


def test_requests_wait_in_the_queue_while_the_responder_is_down_and_are_answered_after_recovery() -> None:
    blip, failing = start("inventory-blip"), start(**{"inventory.error_rate": 1.0}, rate=2)
    blip, failing = wait_finished(blip), wait_finished(failing)
    events = blip.stored_events()
    assert len(of_type(events, "reply.received", outcome="ok")) == 20
    assert of_type(events, "reply.timeout") == []
    assert max(e["depths"]["stock-check"] for e in of_type(events, "queue.depth")) >= 1  # held while down
    assert summary_of(blip)["succeeded"] == 20

    events = failing.stored_events()  # an error fault: the responder answers, with an error reply
    assert len(of_type(events, "reply.received", outcome="error")) == 10
    assert {e["reason"] for e in of_type(events, "request.finished")} == {"inventory: inventory failed"}
    assert verdicts(failing) == {"no_reply_mismatched": (True, 0), "every_request_accounted": (True, 0)}
