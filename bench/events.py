"""Event delay, emit → browser: one learner's lab run socket against a bare relay on the same channel layer.

Starts its own stack as `make run` does (bench/capacity.py's Stack, with COMMS_LAB_BENCH=1 so daphne also routes
the bare relay, comms_lab/bench_relay.py). Rounds alternate:
- lab: one learner runs the checkout `hybrid-baseline` preset (--duration, --rate) and watches its socket; delay =
  receipt − the event's `emitted_at` (set when the engine emits it, before its ~10 ms batching), for events
  emitted after the socket said hello; lost = gaps in `seq`;
- bare: this process sends numbered events to the relay's group with `group_send` every 10 ms, at the rate the
  lab round logged them, each stamped when sent; the relay forwards them; delay = receipt − stamp.
Prints p50/p99 of both (median over rounds) and exits 1 when the lab misses issue 14's targets (p50 ≤ 40 ms,
p99 ≤ 100 ms) or loses an event. Usage: python bench/events.py [--rounds 3] [--duration 20] [--rate 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.typing import Origin

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.capacity import Stack, learner, percentile  # noqa: E402

P50_MS = 40.0
P99_MS = 100.0
BATCH_S = 0.01  # the engine's sink flushes a run's events every 10 ms (lab/engine/sink.py)


async def lab_round(stack: Stack, duration: int, rate: float) -> tuple[list[float], int, float]:
    """Delays (ms) of one learner's run, events lost, and the events per second it logged."""
    body = {"experiment": "checkout", "preset": "hybrid-baseline", "config": {"duration": duration, "rate": rate}}
    go = asyncio.Event()
    go.set()
    watch = await learner(stack.base, body, go, timeout_s=duration + 120)
    if watch.error:
        raise SystemExit(f"lab round failed: {watch.error}")
    return watch.delays_ms, watch.lost, len(watch.seqs) / duration


async def bare_round(stack: Stack, duration: int, events_per_s: float) -> tuple[list[float], int]:
    """Delays (ms) through the bare relay at the given rate, and events lost."""
    from channels.layers import get_channel_layer

    from comms_lab.bench_relay import GROUP

    layer = get_channel_layer()
    delays: list[float] = []
    seen: list[int] = []
    url = f"ws{stack.base[4:]}/ws/bench/relay/"
    async with connect(url, origin=Origin(stack.base), max_size=None, ping_interval=None) as socket:
        total = int(events_per_s * duration)

        async def receive() -> None:
            while len(seen) < total:
                frame = json.loads(await socket.recv())
                now = time.time()
                for event in frame["events"]:
                    seen.append(event["seq"])
                    delays.append((now - event["emitted_at"]) * 1000)

        receiver = asyncio.create_task(receive())
        await asyncio.sleep(0.5)  # the relay has joined its group once the socket is open; give it a moment
        sent, owed, started = 0, 0.0, time.monotonic()
        while sent < total:
            owed += events_per_s * BATCH_S
            count = min(int(owed), total - sent)
            owed -= count
            if count:
                stamp = time.time()
                batch = [{"seq": sent + i + 1, "type": "probe", "emitted_at": stamp} for i in range(count)]
                await layer.group_send(GROUP, {"type": "run.events", "events": batch})
                sent += count
            await asyncio.sleep(max(0.0, started + (sent / events_per_s) - time.monotonic(), BATCH_S / 2))
        try:
            await asyncio.wait_for(receiver, timeout=10)
        except TimeoutError:
            receiver.cancel()
    return delays, total - len(set(seen))


def figures(delays: list[float]) -> tuple[float, float]:
    return percentile(delays, 50) or 0.0, percentile(delays, 99) or 0.0


async def measure(stack: Stack, rounds: int, duration: int, rate: float) -> int:
    lab_p50, lab_p99, bare_p50, bare_p99, lost = [], [], [], [], 0
    for index in range(rounds):
        delays, lab_lost, events_per_s = await lab_round(stack, duration, rate)
        p50, p99 = figures(delays)
        lab_p50.append(p50)
        lab_p99.append(p99)
        lost += lab_lost
        relayed, bare_lost = await bare_round(stack, duration, events_per_s)
        b50, b99 = figures(relayed)
        bare_p50.append(b50)
        bare_p99.append(b99)
        print(
            f"round {index + 1}: lab {len(delays):,} events ({events_per_s:.0f}/s) p50 {p50:.1f} ms p99 {p99:.1f} ms, "
            f"lost {lab_lost}; bare relay {len(relayed):,} events p50 {b50:.1f} ms p99 {b99:.1f} ms, lost {bare_lost}"
        )
    p50, p99 = statistics.median(lab_p50), statistics.median(lab_p99)
    b50, b99 = statistics.median(bare_p50), statistics.median(bare_p99)
    print(f"event delay, emit → browser (median of {rounds} rounds)")
    print(f"  lab run socket   p50 {p50:6.1f} ms  p99 {p99:6.1f} ms   target p50 ≤ {P50_MS:g}, p99 ≤ {P99_MS:g}")
    print(f"  bare relay       p50 {b50:6.1f} ms  p99 {b99:6.1f} ms   ({p50 / max(b50, 0.01):.1f}× at p50)")
    print(f"  events lost by the lab socket: {lost}")
    missed = p50 > P50_MS or p99 > P99_MS or lost > 0
    print("MISSED a target" if missed else "every target met")
    return 1 if missed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=20, help="seconds of each lab run and bare round")
    parser.add_argument("--rate", type=float, default=5, help="checkouts per second of the lab run")
    args = parser.parse_args(argv)
    print(f"event delay bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="comms-lab-events-") as workdir:
        stack = Stack("h14events", workdir, COMMS_LAB_BENCH="1")
        try:
            stack.wait_healthy()
            # This process sends the bare relay's events itself, on the stack's Redis and key prefix.
            os.environ.update(REDIS_URL=stack.redis_url(), REDIS_KEY_PREFIX=stack.prefix)
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comms_lab.settings")
            import django

            django.setup()
            return asyncio.run(measure(stack, args.rounds, args.duration, args.rate))
        finally:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
