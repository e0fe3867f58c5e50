"""Settings as an operator meets them: production checks pass, bad values stop start-up with a clear message."""

import json
import os
import secrets
import subprocess
import sys
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support import lab as tests_lab
from tests.support.processes import ROOT, WebServer


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    full_env = inherited | env
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_reports_no_warnings_with_debug_off_and_a_real_secret_key() -> None:
    result = manage(
        "check", "--deploy", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="lab.example.com"
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_debug_off_without_a_secret_key_refuses_to_start() -> None:
    result = manage("check", DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG=0" in result.stderr


def test_an_out_of_range_setting_names_the_variable_and_its_range() -> None:
    result = manage("check", LAB_MAX_RATE_RPS="500")
    assert result.returncode != 0
    assert "LAB_MAX_RATE_RPS=500: must be from 1 to 50" in result.stderr


def test_debug_off_with_a_short_secret_key_refuses_to_start() -> None:
    result = manage("check", DEBUG="0", SECRET_KEY="short", ALLOWED_HOSTS="lab.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY is 5 characters with 5 distinct: with DEBUG=0 use 50+ random characters" in result.stderr


def test_a_trusted_proxy_that_is_not_an_address_stops_start_up() -> None:
    result = manage("check", TRUSTED_PROXIES="10.0.0.0/8,proxy.local")
    assert result.returncode != 0
    assert "TRUSTED_PROXIES: 'proxy.local' is not an IP address or network" in result.stderr


def test_the_embedded_redis_memory_budget_must_be_a_size() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "comms_lab.stack", "exec", "--", "true"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"REDIS_MAXMEMORY": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and "REDIS_MAXMEMORY='lots': give a size such as 256mb or 2gb" in result.stderr


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", True),
        ("http://127.0.0.1:9", "127.0.0.1:8000", "ws", False),  # another port on the same host
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws", False),  # another scheme
        ("https://localhost", "localhost", "wss", True),
        ("http://localhost", "localhost", "wss", False),
        ("http://evil.example:8000", "evil.example:8000", "ws", False),  # not in ALLOWED_HOSTS
        ("http://[::1]:8000", "[::1]:8000", "ws", True),
        ("null", "127.0.0.1:8000", "ws", False),
        ("", "127.0.0.1:8000", "ws", False),
        ("http://testserver", "", "ws", True),  # test clients send no Host: default port only
        ("http://testserver:81", "", "ws", False),
    ],
)
def test_the_websocket_origin_must_match_scheme_host_and_port(
    origin: str, host: str, scheme: str, allowed: bool
) -> None:
    from comms_lab.asgi import same_origin

    headers = [(b"origin", origin.encode())] if origin else []
    headers += [(b"host", host.encode())] if host else []
    assert same_origin({"type": "websocket", "scheme": scheme, "headers": headers}) is allowed


def test_a_csrf_trusted_origin_is_accepted_exactly(settings: Any) -> None:
    from comms_lab.asgi import same_origin

    settings.CSRF_TRUSTED_ORIGINS = ["https://lab.example.com:8443"]
    scope = {"type": "websocket", "scheme": "ws", "headers": [(b"host", b"127.0.0.1:8000")]}
    ok = dict(scope, headers=[*scope["headers"], (b"origin", b"https://lab.example.com:8443")])
    other_port = dict(scope, headers=[*scope["headers"], (b"origin", b"https://lab.example.com")])
    assert same_origin(ok) and not same_origin(other_port)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_daphne_refuses_a_run_socket_from_another_port_of_the_same_host(web_server: WebServer) -> None:
    learner = tests_lab.new_learner()
    run = tests_lab.start(learner, duration=5, rate=1)
    cookie = tests_lab.session_cookie_for(learner)
    url = web_server.url.replace("http", "ws") + f"/ws/lab/runs/{run.id}/"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers={"Origin": "http://127.0.0.1:9", "Cookie": cookie}, open_timeout=10)
    assert refused.value.response.status_code == 403
    with connect(url, additional_headers={"Origin": web_server.url, "Cookie": cookie}, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "hello"


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "client"),
    [
        ([], "10.0.0.5", "203.0.113.9", "10.0.0.5"),  # no trusted proxy: the header is ignored
        (["10.0.0.0/8"], "10.0.0.5", "203.0.113.9", "203.0.113.9"),
        (["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 203.0.113.9, 10.1.1.1", "203.0.113.9"),  # right-most untrusted hop
        (["10.0.0.0/8"], "198.51.100.1", "203.0.113.9", "198.51.100.1"),  # not from the proxy: ignored
        (["10.0.0.0/8"], "10.0.0.5", "", "10.0.0.5"),
        (["::1"], "::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_the_client_address_believes_x_forwarded_for_only_from_a_trusted_proxy(
    settings: Any, proxies: list[str], remote: str, forwarded: str, client: str
) -> None:
    from django.test import RequestFactory

    from comms_lab.http import client_address

    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    scope = {"client": [remote, 5000], "headers": [(b"x-forwarded-for", forwarded.encode())]}
    assert client_address(request) == client_address(scope) == client
