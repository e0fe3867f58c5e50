"""Accounts: sign-up, and log-in with a per-username-and-address limit on failures (Django's views do the rest)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from quizzes import ratelimit


def _address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


class RateLimitedLoginView(LoginView):
    """Django's LoginView, refusing with 429 once a username has failed MAX_FAILURES times from one address."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        wait = ratelimit.blocked_for(username, _address(request))
        if wait:
            return too_many_attempts(request, wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        ratelimit.record_failure(self.request.POST.get("username", ""), _address(self.request))
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        ratelimit.clear(form.get_user().get_username(), _address(self.request))
        return super().form_valid(form)


def too_many_attempts(request: HttpRequest, wait_s: int) -> HttpResponse:
    response = render(
        request,
        "registration/login_blocked.html",
        {
            "minutes": max(1, -(-wait_s // 60)),
            "retry_at": timezone.now() + timedelta(seconds=wait_s),
            "max_failures": ratelimit.MAX_FAILURES,
            "window_minutes": ratelimit.WINDOW_S // 60,
        },
        status=429,
    )
    response["Retry-After"] = str(wait_s)
    return response


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
def signup(request: HttpRequest) -> HttpResponse:
    """Create an account and sign in; the log-in signal then merges the session's anonymous work into it."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    return render(request, "registration/signup.html", {"form": form, "next": next_url})
