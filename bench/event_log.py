"""How fast the run event log numbers and stores events, against a bare XADD baseline in the same run.

The log's Lua script does INCRBY + XADD + EXPIRE atomically so that numbering is gapless across processes;
this measures what that costs compared with appending without numbering.
"""

import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comms_lab.settings")
os.environ.setdefault("REDIS_KEY_PREFIX", "clbench")

import django

django.setup()

from comms_lab.redis_client import redis_client, rkey  # noqa: E402
from lab.events import RunEventLog  # noqa: E402

N = 20_000
EVENT = {"type": "call.finished", "t": 1.234, "from": "order", "to": "payment", "outcome": "ok", "duration_ms": 400.1}


def per_second(count: int, seconds: float) -> float:
    return count / seconds


def baseline() -> float:
    key = rkey("bench", uuid.uuid4().hex)
    client = redis_client()
    payload = json.dumps(EVENT)
    start = time.perf_counter()
    for _ in range(N):
        client.xadd(key, {"e": payload})
    elapsed = time.perf_counter() - start
    client.delete(key)
    return per_second(N, elapsed)


def numbered(batch: int) -> float:
    log = RunEventLog(uuid.uuid4().hex)
    start = time.perf_counter()
    for _ in range(N // batch):
        log.append([EVENT] * batch)
    elapsed = time.perf_counter() - start
    assert log.last_seq() == N and len(log.after(N - 10)) == 10
    log.delete()
    return per_second(N, elapsed)


if __name__ == "__main__":
    base = baseline()
    print(f"bare XADD, one event per call:        {base:10,.0f} events/s  (baseline)")
    for batch in (1, 10, 50):
        rate = numbered(batch)
        print(f"numbered log, {batch:2d} event(s) per call:  {rate:10,.0f} events/s  ({rate / base:.2f}× baseline)")
