import time

import pytest
from django.test import Client

pytestmark = pytest.mark.integration


def test_healthz_reports_every_part_ok(worker: object, transactional_db: None) -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"db": "ok", "redis": "ok", "worker": "ok"}


def test_healthz_names_the_worker_when_it_is_stopped(worker, transactional_db: None) -> None:
    worker.stop()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            response = Client().get("/healthz")
            if response.status_code == 503:
                break
            time.sleep(0.5)
        assert response.status_code == 503
        assert response.json() == {"db": "ok", "redis": "ok", "worker": "down"}
    finally:
        worker.start()
    assert Client().get("/healthz").status_code == 200


def test_a_worker_being_restarted_makes_healthz_name_it(worker: object, transactional_db: None) -> None:
    from comms_lab.redis_client import redis_client, rkey

    marker = rkey("workers-down", "lab-1-0@ghost")
    redis_client().set(marker, "exited with code -9 at 04:00:00; restarting in 1 s", ex=60)
    try:
        response = Client().get("/healthz")
        assert response.status_code == 503
        assert response.json() == {
            "db": "ok",
            "redis": "ok",
            "worker": "degraded",
            "workers_restarting": {"lab-1-0@ghost": "exited with code -9 at 04:00:00; restarting in 1 s"},
        }
    finally:
        redis_client().delete(marker)
    assert Client().get("/healthz").status_code == 200


def test_the_heartbeat_survives_redis_errors_and_beats_again_once_redis_answers(
    redis_server: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from comms_lab import heartbeat
    from comms_lab.redis_client import redis_client

    calls = {"n": 0}

    def flaky_client() -> redis.Redis:
        calls["n"] += 1
        if calls["n"] <= 3:  # Redis "down" for the first three beats
            return redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
        return redis_client()

    monkeypatch.setattr(heartbeat, "redis_client", flaky_client)
    monkeypatch.setattr(heartbeat, "RETRY_FIRST_S", 0.05)
    beat = heartbeat.Heartbeat("hb-test@here").start()
    try:
        deadline = time.monotonic() + 5
        while not redis_client().exists(heartbeat.heartbeat_key("hb-test@here")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert redis_client().exists(heartbeat.heartbeat_key("hb-test@here"))
        assert beat.thread.is_alive() and calls["n"] >= 4
        assert "worker heartbeat failed (1 in a row)" in caplog.text
    finally:
        beat.stop()
    assert not redis_client().exists(heartbeat.heartbeat_key("hb-test@here"))
