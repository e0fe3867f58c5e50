"""The run websocket: live frames, catch-up from the log, replay on request, and toggles from the owner."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from redis import RedisError

from comms_lab.http import BadRequest, check_toggle_shape, parse_ws_frame, redrive_request, sequence_number
from comms_lab.learners import learner_for_scope
from comms_lab.metrics import OPEN_SOCKETS, SOCKETS_REFUSED
from lab import selectors, services, sockets
from lab.events import REPLAY_PAGE, group_name
from lab.model.schema import ConfigError

TAIL_CHECK_S = 1.0
# How long live events past a hole wait for the frame that fills it before the hole is read from the log.
HOLE_WAIT_S = 0.1
# Close code when Redis is unavailable (as comms_lab/asgi.py uses for the handshake); the page reconnects.
REDIS_DOWN_CLOSE_CODE = 4503
# After this long without a new event, the socket asks whether the run still has a worker to drive it.
QUIET_BEFORE_CHECK_S = 2.0


class RunConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        run_id = self.scope["url_route"]["kwargs"]["run_id"]
        share = (query.get("share") or [None])[0]
        access = await database_sync_to_async(selectors.run_access)(run_id, learner_for_scope(self.scope), share)
        if access is None:
            await self.close(code=4404)
            return
        self.run, self.can_control = access
        holder, cap = sockets.holder_of(self.scope)
        if not await sync_to_async(sockets.claim)(holder, self.channel_name, cap):
            SOCKETS_REFUSED.inc()
            await self.accept()
            await self.error(f"too many open lab sockets: at most {cap} per browser session; close a lab tab", code=429)
            await self.close(code=sockets.TOO_MANY_SOCKETS_CLOSE_CODE)
            return
        self.holder = holder
        OPEN_SOCKETS.inc()
        self.group = group_name(str(self.run.id))
        self.last_sent = 0
        self.send_lock = asyncio.Lock()
        self.early: dict[int, dict[str, Any]] = {}  # live events past a hole, by seq, until the hole fills
        self.hole_since: float | None = None  # since when a hole holds them back; read from the log after HOLE_WAIT_S
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json(
            {"type": "hello", "run": str(self.run.id), "status": self.run.status, "can_control": self.can_control}
        )
        after = _int_or_none((query.get("after") or ["0"])[0]) or 0
        self.last_sent = after
        await self.catch_up(after)
        self.tail = asyncio.create_task(self.watch_tail())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "tail"):
            self.tail.cancel()
        if hasattr(self, "holder"):
            OPEN_SOCKETS.dec()
            await sync_to_async(sockets.release)(self.holder, self.channel_name)
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def send_json(self, data: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(data, separators=(",", ":")))

    async def catch_up(self, after: int) -> None:
        """Send every logged event after `after`, page by page, and move the live cursor past them."""
        async with self.send_lock:
            after = max(after, self.last_sent)
            while True:
                events = await database_sync_to_async(selectors.events_after)(self.run, after, limit=REPLAY_PAGE)
                if not events:
                    break
                await self.send_json({"events": events})
                after = events[-1]["seq"]
                self.last_sent = max(self.last_sent, after)
                if len(events) < REPLAY_PAGE:
                    break
            await self._send_ready()

    async def watch_tail(self) -> None:
        """The channel layer may drop a frame; the log may not. Every second without live events, check it for
        anything missed (while frames flow, a dropped one shows as a hole in the next)."""
        from lab.events import RunEventLog

        log = RunEventLog(str(self.run.id))
        loop = asyncio.get_running_loop()
        quiet_since = refreshed_at = loop.time()
        heard = self.last_sent
        while True:
            await asyncio.sleep(TAIL_CHECK_S)
            flowing = self.last_sent > heard and not self.early
            if self.last_sent > heard:  # live frames arrived since the last look: the run is not silent
                heard, quiet_since = self.last_sent, loop.time()
            try:
                if loop.time() - refreshed_at >= sockets.REFRESH_EVERY_S:
                    await sync_to_async(sockets.refresh)(self.holder, self.channel_name)
                    refreshed_at = loop.time()
                if flowing:
                    continue
                last = await sync_to_async(log.last_seq)()
            except (RedisError, OSError):
                # Tell the page, then close: lab.js reconnects and resumes after its last seq once Redis is back.
                await self.send_json({"type": "reconnecting", "reason": "Redis is unavailable; reconnecting"})
                await self.close(code=REDIS_DOWN_CLOSE_CODE)
                return
            if last > self.last_sent:
                quiet_since = loop.time()
                await self.catch_up(self.last_sent)
                heard = self.last_sent
            elif loop.time() - quiet_since >= QUIET_BEFORE_CHECK_S and self.run.is_active:
                # A silent running run may have lost its worker: if none is left, close it (the page is told).
                await database_sync_to_async(self._close_if_abandoned)()

    def _close_if_abandoned(self) -> None:
        self.run.refresh_from_db(fields=["status"])
        self.run = services.close_if_abandoned(self.run)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Live frames go straight to their handler: Channels closes stale database connections before every
        message, a hop to a thread and back that cost daphne about a third of its time per frame, and forwarding
        frames touches no database (reading the log does, through database_sync_to_async, which closes them)."""
        if message["type"] == "run.events":
            await self.run_events(message)
        else:
            await super().dispatch(message)

    async def run_events(self, message: dict[str, Any]) -> None:
        """Forward live events as soon as they continue exactly where we are.

        Worker processes append to the log in seq order but push in any order, so frames arrive shuffled, with holes
        that a frame a few milliseconds behind fills: events past a hole wait here for it (reading the log for each
        shuffle cost the web process more than the frames themselves). A hole still open after HOLE_WAIT_S (a frame
        the channel layer dropped) is filled from the log, at the next frame or the next tail check. A frame that
        continues exactly where the page is goes on as the text the log's script built (lab/events.py, live_channel).
        """
        async with self.send_lock:
            if message["first"] == self.last_sent + 1 and not self.early:  # the usual case: the frame goes on as is
                await self.send(text_data=message["frame"])
                self.last_sent = message["last"]
                return
            for event in json.loads(message["frame"])["events"]:
                if event["seq"] > self.last_sent:
                    self.early[event["seq"]] = event
            await self._send_ready()
            stuck = self.hole_since is not None and asyncio.get_running_loop().time() - self.hole_since >= HOLE_WAIT_S
        if stuck:
            await self.catch_up(self.last_sent)

    async def _send_ready(self) -> None:
        """Send the held events that now continue the stream, and note since when a hole holds the rest back.
        Call with send_lock held."""
        self.early = {seq: e for seq, e in self.early.items() if seq > self.last_sent}
        ready: list[dict[str, Any]] = []
        while self.last_sent + len(ready) + 1 in self.early:
            ready.append(self.early.pop(self.last_sent + len(ready) + 1))
        if ready:
            await self.send_json({"events": ready})
            self.last_sent = ready[-1]["seq"]
        if not self.early:
            self.hole_since = None
        elif self.hole_since is None or ready:
            self.hole_since = asyncio.get_running_loop().time()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            await self._receive(parse_ws_frame(text_data, bytes_data))
        except BadRequest as exc:  # bad input: say what is wrong, keep the socket open
            if set(exc.fields) == {"frame"}:
                await self.error(f"frame {exc.fields['frame']}")
            else:
                await self.send_json({"type": "error", "error": str(exc), "fields": exc.fields, "code": 400})

    async def _receive(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "replay":
            after = message.get("after", 0)
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
                await self.error("after: must be a whole number ≥ 0 (the last seq you have)", field="after")
                return
            await self.replay(sequence_number(after))
        elif kind == "toggle":
            await self.toggle(message)
        elif kind == "redrive":
            await self.redrive(message)
        elif kind == "state":
            await self.state_at(message)
        elif kind == "stop":
            if not self.can_control:
                await self.error("only the run's owner can stop it", code=403)
                return
            await database_sync_to_async(services.request_stop)(self.run)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.error(
                f"type: unknown frame type {kind!r}; use replay, toggle, redrive, state, stop or ping", field="type"
            )

    async def replay(self, after: int) -> None:
        async with self.send_lock:
            while True:
                events = await database_sync_to_async(selectors.events_after)(self.run, after, limit=REPLAY_PAGE)
                if events:
                    await self.send_json({"events": events, "replay": True})
                    after = events[-1]["seq"]
                    self.last_sent = max(self.last_sent, after)
                if len(events) < REPLAY_PAGE:
                    return

    async def toggle(self, message: dict[str, Any]) -> None:
        if not self.can_control:
            await self.error("only the run's owner can change it; this link is read-only", code=403)
            return
        try:
            check_toggle_shape(message)
            values = services.toggle_values(message)
            await database_sync_to_async(self._apply)(values)
        except ConfigError as exc:
            await self.send_json({"type": "error", "error": str(exc), "fields": exc.errors, "code": 400})

    async def redrive(self, message: dict[str, Any]) -> None:
        """`{"type": "redrive", "queue"?, "message_ids"?}`: dead letters back on their queues (the owner only)."""
        if not self.can_control:
            await self.error("only the run's owner can re-drive its dead letters", code=403)
            return
        message_ids = redrive_request(message)
        queue = message.get("queue")
        try:
            await database_sync_to_async(self._redrive)(queue, message_ids)
        except ConfigError as exc:
            await self.send_json({"type": "error", "error": str(exc), "fields": exc.errors, "code": 400})

    async def state_at(self, message: dict[str, Any]) -> None:
        """`{"type": "state", "link", "key", "version"}`: a key's state at a version, as `GET .../state` answers it
        (anyone who may watch the run may ask). A bad field raises BadRequest: an error frame naming it."""
        version = message.get("version")
        text = str(version) if isinstance(version, int) and not isinstance(version, bool) else version
        answer = await database_sync_to_async(selectors.state_at_version)(
            self.run,
            link=_text(message.get("link")),
            key=_text(message.get("key")),
            version=_text(text),
        )
        await self.send_json({"type": "state", **answer})

    def _redrive(self, queue: str | None, message_ids: list[str] | None) -> None:
        self.run.refresh_from_db(fields=["status"])
        services.redrive_dead_letters(self.run, queue=queue, message_ids=message_ids)

    def _apply(self, values: dict[str, Any]) -> None:
        self.run.refresh_from_db(fields=["status"])
        services.apply_toggles(self.run, values, by="learner")

    async def error(self, text: str, *, field: str | None = None, code: int = 400) -> None:
        frame: dict[str, Any] = {"type": "error", "error": text, "code": code}
        if field:
            frame["fields"] = {field: text}
        await self.send_json(frame)


def _text(value: Any) -> str:
    """A field that must be text; anything else is taken as empty, which the query refuses naming the field."""
    return value if isinstance(value, str) else ""


def _int_or_none(raw: str) -> int | None:
    try:
        return sequence_number(raw)
    except BadRequest:
        return None
