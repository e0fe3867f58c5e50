"""Request-reply over a `reply` link: a request message with `reply_to` and a correlation, a reply matched to it.

The request is a real message like any queued one (a Redis list, handed to the responder's instances as Celery
`lab.deliver` tasks), so a responder that is down holds requests in its queue and a slow one holds them in work.
The reply comes back to the requesting *process*, whichever worker served it: each engine process owns one reply
inbox (a Redis list), read by a single blocking pop on its own connection, which resolves the waiting coroutine's
future by the request's message id, as RabbitMQ's direct reply-to hands replies to the channel that asked (a
responder in the asking process itself hands its reply over directly). A reply
that arrives after its deadline is counted (`reply.late`) and dropped: it can never complete another request.
Unless the link matches by arrival order (`match: arrival_order`, the client that trusts replies to come back in
the order it asked): then each reply completes the oldest request still waiting on that link, its own or not.

The requester holds no thread while it waits: the pool thread its handler runs on is handed back when the request
leaves and taken again (waiting for a free one) when the reply or the deadline comes.

Events: `request.sent`, `reply.sent`, `reply.received`, `reply.timeout`, `reply.late` (fields in docs and below).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from comms_lab.redis_client import rkey
from lab.engine.interpreter import (
    DEFAULT_CLIENT_WAIT_MS,
    HELD_THREAD,
    RECEIVERS,
    Engine,
    RunContext,
    new_message_id,
    onward,
    step_handler,
)
from lab.engine.loop import ENGINE_ID, spawn
from lab.model.failures import FailureSpec
from lab.model.topology import Link, Service, Step

log = logging.getLogger(__name__)

# The envelope's `via` that routes a delivered request to `serve_request` instead of the queue consumer.
VIA = "request"
# How long one blocking pop waits before it looks again (it returns at once when a reply lands).
INBOX_POP_S = 1.0
# A reply inbox whose process is gone is forgotten after this long.
INBOX_TTL_S = 3600
# How many settled requests a process remembers, to say how late a reply to one of them came.
SETTLED_MEMORY = 10_000
# Set on a request's envelope once its handler has replied, so the implicit reply is not sent twice.
REPLIED = "_replied"


@dataclass
class Pending:
    """A request waiting for its reply in this process. `waker` sleeps until the deadline; a reply stops it early,
    so the requester waits through the engine's clock (real, or virtual in tests) either way."""

    waker: asyncio.Task[None]
    run_id: str
    link: str
    correlation_id: str
    sent_at: float
    deadline_at: float
    reply: dict[str, Any] | None = None


class ReplyInbox:
    """This process's reply queue: one Redis list, one blocking-pop loop, the requests still waiting here."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.name = f"{ENGINE_ID}:{uuid.uuid4().hex[:6]}"
        pool = redis.connection_pool
        # Its own connection: a blocking pop must not hold one the rest of the engine shares.
        self.redis = aioredis.Redis(
            connection_pool=aioredis.ConnectionPool(
                connection_class=pool.connection_class, max_connections=2, **pool.connection_kwargs
            )
        )
        self.pending: dict[str, Pending] = {}
        # Requests no longer waiting here: their deadline and whether a reply completed them.
        self.settled: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self.listener: asyncio.Task[None] | None = None

    @staticmethod
    def key(name: str) -> str:
        return rkey("replies", name)

    def listen(self, engine: Engine) -> None:
        """Start reading replies (once per process); it keeps running so late replies are counted too."""
        if self.listener is None or self.listener.done():
            self.listener = spawn(self._listen(engine))

    def settle(self, request_id: str, *, answered: bool) -> None:
        """The request waits no more (answered, or its deadline passed): any later reply to it is late."""
        pending = self.pending.pop(request_id, None)
        if pending is not None:
            self.settled[request_id] = (pending.deadline_at, answered)
            while len(self.settled) > SETTLED_MEMORY:
                self.settled.popitem(last=False)

    async def _listen(self, engine: Engine) -> None:
        while True:
            try:
                item = await self.redis.blpop([self.key(self.name)], timeout=INBOX_POP_S)
            except (RedisError, OSError):
                log.warning("reply inbox %s: Redis unavailable, retrying", self.name, exc_info=True)
                await asyncio.sleep(INBOX_POP_S)
                continue
            if item is None:
                continue
            try:
                await self.arrived(engine, json.loads(item[1]), settle=True)
            except Exception:  # one bad reply must not stop the inbox for every later one
                log.exception("reply inbox %s: could not handle a reply", self.name)

    async def arrived(self, engine: Engine, reply: dict[str, Any], *, settle: bool) -> None:
        """Match a reply to the request waiting for it, by the request's id alone; otherwise it is late. `settle`:
        the reply came through Redis and counted as outstanding work until now."""
        try:
            ctx = await engine.context(reply["run_id"])
        except LookupError:
            return  # the run is over and its state is gone
        answers = reply["in_reply_to"]
        await ctx.refresh()
        request_id = self.claimant(ctx, reply)
        fields = {k: reply[k] for k in ("message_id", "in_reply_to", "from", "to", "outcome", "reason")}
        pending = self.pending.get(request_id)
        if pending is not None and pending.reply is None and not pending.waker.done():
            self.settle(request_id, answered=True)
            ctx.emit(
                "reply.received",
                request_id=request_id,
                correlation_id=pending.correlation_id,
                reply_correlation_id=reply["correlation_id"],
                latency_ms=round((ctx.clock.time() - pending.sent_at) * 1000, 1),
                **fields,
            )
            pending.reply = reply
            pending.waker.cancel()
        else:
            deadline_at, answered = self.settled.get(answers, (None, False))
            own = self.pending.get(answers)
            if own is not None:  # its deadline has just passed and its requester is about to give up
                deadline_at, answered = own.deadline_at, False
            late_by = round((ctx.clock.time() - deadline_at) * 1000, 1) if deadline_at and not answered else None
            ctx.emit(
                "reply.late",
                correlation_id=reply["correlation_id"],
                late_by_ms=late_by,
                duplicate=answered,  # a second reply to a request already answered (a duplicated request)
                **fields,
            )
        if settle:
            await ctx.settle(-1)

    def claimant(self, ctx: RunContext, reply: dict[str, Any]) -> str:
        """The request a reply completes: the one it answers, by id; on a link matched by arrival order, the oldest
        request still waiting on that link in this process, whichever it is."""
        link = ctx.topology.links.get(str(reply.get("link", "")))
        if link is None or match_mode(ctx, link) != "arrival_order":
            return str(reply["in_reply_to"])
        for request_id, pending in self.pending.items():  # in the order the requests were sent
            waiting = pending.reply is None and not pending.waker.done()
            if waiting and pending.run_id == ctx.run_id and pending.link == link.id:
                return request_id
        return str(reply["in_reply_to"])


_inboxes: weakref.WeakKeyDictionary[Engine, ReplyInbox] = weakref.WeakKeyDictionary()


def inbox_for(engine: Engine) -> ReplyInbox:
    """The reply inbox of this engine (one engine per worker process)."""
    inbox = _inboxes.get(engine)
    if inbox is None:
        inbox = _inboxes[engine] = ReplyInbox(engine.redis)
    return inbox


def deadline_ms(ctx: RunContext, link: Link) -> float:
    """The link's `timeout` policy when switched on (a live knob), else its `deadline_ms`."""
    if ctx.enabled(link.timeout):
        return float(ctx.params[f"{link.timeout}.ms"])
    return link.deadline_ms or DEFAULT_CLIENT_WAIT_MS


def match_mode(ctx: RunContext, link: Link) -> str:
    """How replies on the link find their request: `correlation_id` (its own) or `arrival_order` (a live knob
    when the link names a `match_param`)."""
    return str(ctx.params.get(link.match_param, link.match)) if link.match_param else link.match


@step_handler("request")
async def request(engine: Engine, ctx: RunContext, service: Service, step: Step, env: dict[str, Any]) -> str | None:
    """Send a request over a reply link and wait for its reply until the deadline, holding no thread meanwhile."""
    link = ctx.topology.links[step.target]
    inbox = inbox_for(engine)
    inbox.listen(engine)
    await ctx.refresh()
    wait_ms = deadline_ms(ctx, link)
    tag = {ctx.group_by: env[ctx.group_by]} if ctx.group_by and ctx.group_by in env else {}
    message = onward(
        ctx,
        env,
        source=link.source,
        target=link.target,
        queue=link.id,
        key=str(step.options.get("key", "")),
        body=dict(step.options.get("body") or {}),
        via=VIA,
        reply_to=inbox.name,
    )
    request_id = message["message_id"]
    sent_at = ctx.clock.time()
    waker = ctx.clock.spawn(ctx.clock.sleep(wait_ms / 1000))
    pending = Pending(waker, ctx.run_id, link.id, env["correlation_id"], sent_at, sent_at + wait_ms / 1000)
    inbox.pending[request_id] = pending
    ctx.emit("request.sent", request_id=request_id, deadline_ms=wait_ms, **message)
    held = HELD_THREAD.get()
    if held is not None:  # the thread goes back to its pool while the request is out
        await ctx.state.release(*held)
    await engine._send(ctx, link.id, message)  # transit faults, real queue, dispatch to the responder's instances
    await ctx.flush()
    await ctx.clock.wait(waker, max(0.0, pending.deadline_at - ctx.clock.time()))
    reply = pending.reply
    if reply is None:
        inbox.settle(request_id, answered=False)
        ctx.emit(
            "reply.timeout",
            request_id=request_id,
            correlation_id=env["correlation_id"],
            deadline_ms=wait_ms,
            **{"from": link.source, "to": link.target},
            **tag,
        )
        reason: str | None = f"{link.target}: no reply within {wait_ms:g} ms"
    elif reply["outcome"] != "ok":
        reason = f"{link.target}: {reply['reason'] or 'error reply'}"
    else:
        reason = None
    if held is not None:  # what follows the reply runs on a thread of the pool again, once one is free
        pool = ctx.topology.services[held[0]]
        if not await engine._wait_for_slot(ctx, pool, held[1], DEFAULT_CLIENT_WAIT_MS):
            return reason or f"no free {pool.id} thread to take the reply"
    return reason


@step_handler("reply")
async def reply_step(engine: Engine, ctx: RunContext, service: Service, step: Step, env: dict[str, Any]) -> str | None:
    """Answer the request being handled now (once; a second reply step does nothing)."""
    if "reply_to" not in env:
        return f"{service.id} has no request to reply to"
    if not env.get(REPLIED):
        await send_reply(engine, ctx, service, env, outcome=str(step.options.get("outcome", "ok")))
    return None


async def send_reply(
    engine: Engine, ctx: RunContext, service: Service, request_env: dict[str, Any], *, outcome: str, reason: str = ""
) -> None:
    """Push the reply onto the requesting process's inbox, where it is outstanding work until that process reads
    it; a reply to this very process is matched at once."""
    request_env[REPLIED] = True
    reply = {
        "message_id": new_message_id(),
        "correlation_id": request_env["correlation_id"],
        "causation_id": request_env["message_id"],
        "in_reply_to": request_env["message_id"],
        "link": request_env["queue"],
        "run_id": ctx.run_id,
        "from": service.id,
        "to": request_env["from"],
        "outcome": outcome,
        "reason": reason,
        "sent_at": round(ctx.clock.time(), 3),
    }
    public = {k: v for k, v in reply.items() if k != "run_id"}
    inbox = inbox_for(engine)
    ctx.emit("reply.sent", reply_to=request_env["reply_to"], process=inbox.name, **public)
    if request_env["reply_to"] == inbox.name:  # the asker is this process: hand the reply over, no Redis hop
        await inbox.arrived(engine, reply, settle=False)
        return
    await ctx.state.add_outstanding(1)
    await ctx.flush()  # reply.sent is logged before the requester can log reply.received
    pipe = ctx.state.redis.pipeline(transaction=False)
    pipe.rpush(ReplyInbox.key(request_env["reply_to"]), json.dumps(reply, separators=(",", ":")))
    pipe.expire(ReplyInbox.key(request_env["reply_to"]), INBOX_TTL_S)
    await pipe.execute()


async def serve_request(engine: Engine, ctx: RunContext, queue: str, env: dict[str, Any]) -> None:
    """A responder instance taking one request off its queue: its faults, its steps, then its reply."""
    _, responder = engine.consumer_of(ctx, queue)
    if not await ctx.state.hold(queue, env, ENGINE_ID):  # redelivered by the watchdog if this process dies meanwhile
        return  # a stale delivery: the watchdog already put this request back on its queue
    await ctx.refresh()
    try:
        finished = await _serve(engine, ctx, responder, queue, env)
    except Exception as exc:  # a handler bug is an event and, for the requester, a missing reply
        ctx.emit("handler.error", message_id=env.get("message_id"), error=repr(exc)[:200])
        finished = True
    await engine.finish_delivery(ctx, queue, env, finished=finished)


async def _serve(engine: Engine, ctx: RunContext, responder: Service, queue: str, env: dict[str, Any]) -> bool:
    """True when the request is finished with (answered or lost); False when it went back on the queue."""
    spec = FailureSpec.from_params(ctx.params, responder.id)
    if spec.down and spec.applies(call_index=0, now=ctx.now()):
        await ctx.state.enqueue(queue, env, front=True)  # taken just before the responder went down: put back
        return False
    _, fault = await ctx.fault_for(responder.id, env["message_id"], env["attempt"])
    ctx.emit("message.consumed", kind="async", **env)
    await ctx.flush()
    started = ctx.clock.time()
    await ctx.sleep((ctx.work_ms(responder) + fault.extra_latency_ms + engine._jitter(ctx, responder, env)) / 1000)
    if fault.crash == "before_ack":
        duration = round((ctx.clock.time() - started) * 1000, 1)
        ctx.emit("message.processed", outcome="crashed", duration_ms=duration, redelivered=True, **env)
        await ctx.state.enqueue(queue, env, front=True)
        return False
    handling = dict(env)
    reason = f"{responder.id} failed" if fault.error else None
    steps = responder.on.get(str(env.get("key", "")), responder.steps)
    if reason is None and steps:
        reason = await engine.run_steps(ctx, responder, steps, handling)
    duration = round((ctx.clock.time() - started) * 1000, 1)
    if fault.crash == "after_ack":  # acknowledged, then the process died: nobody replies
        ctx.emit("message.processed", outcome="lost", duration_ms=duration, **env)
        return True
    if not handling.get(REPLIED):
        await send_reply(
            engine, ctx, responder, handling, outcome="ok" if reason is None else "error", reason=reason or ""
        )
    ctx.emit("message.processed", outcome="ok" if reason is None else "error", duration_ms=duration, **env)
    return True


RECEIVERS[VIA] = serve_request
