"""Settings as an operator meets them: production checks pass, bad values stop start-up with a clear message."""

import os
import secrets
import subprocess
import sys

from tests.support.processes import ROOT


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
