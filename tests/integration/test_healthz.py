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
