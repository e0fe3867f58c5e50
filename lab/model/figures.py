"""What each figure of a run's summary means, by its dotted name, so the page can list every figure a lesson or a
quiz names under that name with a one-line definition. A `*` stands for a name of the run's own (a queue, a
consumer group, a mode, an effect) within one part of the path. The page matches them the same way
(static/lab/summary.js)."""

from __future__ import annotations

import re
from functools import cache

FIGURE_MEANINGS: dict[str, str] = {
    "sagas.sagas": "Sagas started: one per orchestrated order, one per participant in a choreography.",
    "sagas.participants": "Services that ran a saga of their own.",
    "sagas.completed": "Sagas that ran every step.",
    "sagas.compensated": "Sagas that failed and undid every finished step.",
    "sagas.failed": "Sagas left half-done: a finished step never undone.",
    "sagas.stuck": "Sagas still waiting on a compensation when the run ended.",
    "sagas.unended": "Sagas that had not ended when the run did.",
    "sagas.stranded": "Orders left partly done because a hand-over never reached the next service.",
    "sagas.compensation_retries": "Compensations tried again after failing.",
    "sagas.crashes": "Times the orchestrator crashed and resumed from its saved state.",
    "sagas.steps_repeated": "Steps run twice: the orchestrator crashed after doing them, before saving that it had.",
    "replies.requests": "Requests sent over the reply link.",
    "replies.on_time": "Requests whose reply arrived before the deadline.",
    "replies.mismatched": "Replies handed to the wrong request: should be 0.",
    "replies.error_replies": "Replies that reported an error.",
    "replies.timed_out": "Requests whose deadline passed before a reply came.",
    "replies.late": "Replies that arrived after their request had timed out.",
    "replies.never": "Timed-out requests that never got a reply at all.",
    "replies.duplicates": "Late replies that were copies of one already received.",
    "streams.appended": "Events appended to the stream.",
    "streams.redelivered": "Stream entries delivered again after a failure.",
    "streams.reads": "Reads of the projection's read model.",
    "streams.stale_reads": "Reads that saw a row older than the events already appended.",
    "streams.mean_read_wait_ms": "Average wait before a read saw its own write, in ms.",
    "streams.groups.*.processed": "Events this consumer group processed.",
    "streams.groups.*.out_of_order": "Events processed before an earlier event of the same key.",
    "streams.groups.*.out_of_order_after_retry": "Of those, events that overtook a retried earlier one.",
    "streams.groups.*.replayed": "Events processed again after a rewind.",
    "streams.groups.*.skipped": "Events skipped as already applied.",
    "streams.groups.*.parked": "Events set aside after their last attempt.",
    "streams.groups.*.max_lag": "Most events the group was behind the stream's end at any sample.",
    "streams.groups.*.max_lag_at_s": "When that worst lag was seen, in seconds into the run.",
    "streams.groups.*.rows": "Rows in the group's read model.",
    "streams.groups.*.rows_differing": "Rows that differ from what their events add up to: should be 0.",
    "streams.groups.*.rebuilds": "Times the read model was rebuilt from the log.",
    "streams.groups.*.max_lag_ms": "Longest time the read model was behind an event, in ms.",
    "streams.groups.*.reads": "Page reads the read model served.",
    "streams.groups.*.stale_reads": "Of those, reads that saw an older row.",
    "streams.groups.*.by_*.*.processed": "Events of this class the group processed.",
    "streams.groups.*.by_*.*.out_of_order": "Events of this class processed before an earlier one of their key.",
    "streams.groups.*.by_*.*.out_of_order_after_retry": "Of those, events that overtook a retried earlier one.",
    "effects.*.by_mode.*.expected": "Orders that should have this effect exactly once.",
    "effects.*.by_mode.*.once": "Orders that got it exactly once.",
    "effects.*.by_mode.*.repeated": "Orders that got it more than once.",
    "effects.*.by_mode.*.extra": "Copies beyond the first, over all orders.",
    "effects.*.by_mode.*.lost": "Orders that should have got it and never did.",
    "effects.*.by_mode.*.orphaned": "Effects for orders that were never saved.",
    "pool_full_pct.*": "Share of the run (to its last sample) during which every thread of this pool was taken, in %.",
    "messages.*.published": "Messages put on this queue.",
    "messages.*.processed": "Messages its consumers finished.",
    "messages.*.processed_per_s": "Messages finished per second while load ran.",
    "messages.*.wait_ms.p50": "Half of its messages waited at most this long before a consumer took them, in ms.",
    "messages.*.wait_ms.p95": "95% of its messages waited at most this long, in ms.",
    "messages.*.wait_ms.p99": "99% of its messages waited at most this long, in ms.",
    "messages.*.wait_ms.max": "Longest any of its messages waited before a consumer took it, in ms.",
    "messages.*.dead_lettered": "Its messages moved to the dead letters after their last attempt.",
    "messages.*.redriven": "Its dead letters sent back to the queue.",
}


@cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    return [
        (re.compile("^" + r"\.".join(re.escape(part).replace(r"\*", "[^.]+") for part in name.split(".")) + "$"), m)
        for name, m in FIGURE_MEANINGS.items()
    ]


def meaning_of(path: str) -> str | None:
    """The one-line definition of a summary figure named by its dotted path, or None for one not described."""
    return next((meaning for pattern, meaning in _patterns() if pattern.match(path)), None)
