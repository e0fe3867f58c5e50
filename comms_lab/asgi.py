"""ASGI entry point: Django for HTTP, Channels for websockets (same-origin only, with the session user)."""

import json
import logging
import os
from typing import Any
from urllib.parse import urlparse

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "comms_lab.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http.request import validate_host  # noqa: E402

from comms_lab.middleware import outage_reason  # noqa: E402
from lab.routing import websocket_urlpatterns  # noqa: E402

log = logging.getLogger(__name__)
CLOSE_REDIS_UNAVAILABLE = 4503

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int | None]


def _origin(scheme: str, host: str | None, port: int | None) -> Origin:
    return scheme, (host or "").lower(), port if port is not None else DEFAULT_PORTS.get(scheme)


def _socket_scheme(scope: dict[str, Any], headers: dict[bytes, bytes]) -> str:
    """http or https: what a page that opened this socket must have been served over."""
    if scope.get("scheme") == "wss":
        return "https"
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)  # set by BEHIND_HTTPS_PROXY=1
    if proxy_header:
        name = proxy_header[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        if headers.get(name, b"").decode("latin-1").split(",")[0].strip() == proxy_header[1]:
            return "https"
    return "http"


def same_origin(scope: dict[str, Any]) -> bool:
    """Whether a websocket comes from a page of this very site.

    The Origin's scheme, host AND port must equal the socket's own (from its Host header), and the host must be
    in ALLOWED_HOSTS; origins listed in CSRF_TRUSTED_ORIGINS are accepted exactly as written. Cookies are not
    port-scoped, so comparing host names alone would let a page on another port of the same host open a
    learner's run socket with their cookies.
    """
    headers = dict(scope.get("headers") or [])
    try:
        parsed = urlparse(headers.get(b"origin", b"").decode("latin-1"))
        origin = _origin(parsed.scheme, parsed.hostname, parsed.port)
    except ValueError:
        return False
    if not origin[1] or origin[0] not in DEFAULT_PORTS:
        return False
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        pattern = urlparse(trusted)
        if "*" not in trusted and origin == _origin(pattern.scheme, pattern.hostname, pattern.port):
            return True
    if not validate_host(f"[{origin[1]}]" if ":" in origin[1] else origin[1], settings.ALLOWED_HOSTS):
        return False
    host_header = headers.get(b"host", b"").decode("latin-1")
    if not host_header:  # only test clients omit Host: then only the default port of an allowed host
        return origin[2] == DEFAULT_PORTS[origin[0]]
    try:
        host = urlparse("//" + host_header)
        own = _origin(_socket_scheme(scope, headers), host.hostname, host.port)
    except ValueError:
        return False
    return origin == own


def redis_outage_guard(application: Any) -> Any:
    """A websocket whose consumer fails because Redis is down (the channel layer subscribes before `connect`)
    gets an error frame naming Redis and close code 4503 (like HTTP 503; daphne sends only 1000 and 3000-4999)
    instead of an HTTP 500 handshake or a bare 1011; the page's reconnect loop finds the lab again once Redis
    is back."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        state = {"connect": False, "accept": False, "close": False}

        async def tracked_receive() -> dict[str, Any]:
            message = await receive()
            state["connect"] = state["connect"] or message["type"] == "websocket.connect"
            return message

        async def tracked_send(message: dict[str, Any]) -> None:
            state["accept"] = state["accept"] or message["type"] == "websocket.accept"
            state["close"] = state["close"] or message["type"] == "websocket.close"
            await send(message)

        try:
            return await application(scope, tracked_receive, tracked_send)
        except Exception as exc:
            reason = outage_reason(exc)
            if reason is None or state["close"]:
                raise
            log.warning("websocket %s: %s (%s: %s)", scope.get("path"), reason, type(exc).__name__, exc)
            if not state["connect"]:
                await receive()
            if not state["accept"]:
                await send({"type": "websocket.accept"})
            frame = {"type": "error", "error": reason, "code": 503, "unavailable": "redis"}
            await send({"type": "websocket.send", "text": json.dumps(frame)})
            await send({"type": "websocket.close", "code": CLOSE_REDIS_UNAVAILABLE, "reason": "Redis is unavailable"})
            return None

    return app


def same_origin_only(application: Any) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and same_origin(scope):
            return await application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)  # HTTP 403 on the handshake

    return app


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": same_origin_only(redis_outage_guard(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
