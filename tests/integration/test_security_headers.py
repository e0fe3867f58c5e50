"""Every page is served under an enforced Content-Security-Policy without inline script or style."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/lessons/", "/quizzes/", "/lab/", "/lab/checkout/"])
def test_pages_enforce_a_policy_with_no_inline_script(path: str) -> None:
    response = Client().get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert "Content-Security-Policy-Report-Only" not in response
