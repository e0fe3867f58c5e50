"""Accounts: sign-up, log-in and password reset (rate limited per client address), and a learner's own data:
download it as JSON, or delete the account with everything tied to it. Django's views do the rest."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, PasswordResetView
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET

from comms_lab.http import client_address
from comms_lab.learners import SESSION_KEY
from quizzes import ratelimit

log = logging.getLogger(__name__)


class RateLimitedLoginView(LoginView):
    """Django's LoginView, refusing with 429 once a user name has failed too often from one address, or the
    address has failed too often across names (quizzes.ratelimit)."""

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        username = request.POST.get("username", "")
        wait = ratelimit.blocked_for(username, client_address(request))
        if wait:
            return too_many_attempts(request, wait)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        ratelimit.record_failure(self.request.POST.get("username", ""), client_address(self.request))
        return super().form_invalid(form)

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        ratelimit.clear(form.get_user().get_username(), client_address(self.request))
        return super().form_valid(form)


def too_many_attempts(request: HttpRequest, wait_s: int, *, what: str = "login") -> HttpResponse:
    response = render(
        request,
        "registration/login_blocked.html",
        {
            "what": what,
            "minutes": max(1, -(-wait_s // 60)),
            "retry_at": timezone.now() + timedelta(seconds=wait_s),
            "max_failures": settings.LOGIN_FAILURES_PER_NAME,
            "window_minutes": settings.LOGIN_WINDOW_S // 60,
        },
        status=429,
    )
    response["Retry-After"] = str(wait_s)
    return response


class SignupForm(UserCreationForm):
    email = forms.EmailField(
        required=False, help_text="Optional. Used only to send you a link if you forget your password."
    )

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


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
    if request.method == "POST":
        wait = ratelimit.wait_s(ratelimit.SIGNUP_PER_ADDRESS, client_address(request))
        if wait:
            return too_many_attempts(request, wait, what="signup")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        ratelimit.hit(ratelimit.SIGNUP_PER_ADDRESS, client_address(request))
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


class RateLimitedPasswordResetView(PasswordResetView):
    """Django's password reset (an e-mail with a one-time link), at most PASSWORD_RESETS_PER_ADDRESS requests an
    hour from one address, so the form cannot be used to flood someone's inbox."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        wait = ratelimit.wait_s(ratelimit.RESET_PER_ADDRESS, client_address(request))
        if wait:
            return too_many_attempts(request, wait, what="reset")
        ratelimit.hit(ratelimit.RESET_PER_ADDRESS, client_address(request))
        return super().post(request, *args, **kwargs)


@login_required
@never_cache
def account(request: HttpRequest) -> HttpResponse:
    return render(request, "registration/account.html", {"delete_form": DeleteAccountForm(request.user)})


def _owned(model: Any, request: HttpRequest) -> Any:
    """Rows of `model` belonging to this learner: their account's, and any still under the session's id."""
    anonymous_id = request.session.get(SESSION_KEY) or ""
    mine = Q(user=request.user)
    if anonymous_id:
        mine |= Q(user__isnull=True, anonymous_id=anonymous_id)
    return model.objects.filter(mine)


def learner_data(request: HttpRequest) -> dict[str, Any]:
    from lab.models import Run
    from lessons.models import LessonProgress
    from quizzes.models import Attempt, Response, ReviewCard

    user = cast(User, request.user)  # only the @login_required download_data calls this
    attempts = list(_owned(Attempt, request).order_by("started_at").values())
    responses = Response.objects.filter(attempt_id__in=[a["id"] for a in attempts]).order_by("created_at")
    by_attempt: dict[Any, list[dict[str, Any]]] = {}
    # Plain dicts (values() rows); the stubs' TypedDict would forbid popping its key.
    for response in cast(Iterable[dict[str, Any]], responses.values()):
        by_attempt.setdefault(response.pop("attempt_id"), []).append(response)
    for attempt in attempts:
        attempt["responses"] = by_attempt.get(attempt["id"], [])
    run_fields = [f.name for f in Run._meta.concrete_fields if f.name not in ("event_log", "user", "share_token")]
    return {
        "format": "comms_lab learner data, version 1",
        "exported_at": timezone.now(),
        "account": {
            "username": user.get_username(),
            "email": user.email,
            "date_joined": user.date_joined,
            "last_login": user.last_login,
        },
        "lesson_progress": list(_owned(LessonProgress, request).order_by("started_at").values()),
        "quiz_attempts": attempts,
        "review_cards": list(_owned(ReviewCard, request).order_by("question_id").values()),
        "lab_runs": list(_owned(Run, request).order_by("created_at").values(*run_fields)),
    }


@login_required
@require_GET
@never_cache
def download_data(request: HttpRequest) -> HttpResponse:
    """Everything comms_lab keeps about the learner, as one JSON file. A run's full event log stays available
    from the lab API (`/lab/api/runs/<id>/events`)."""
    body = json.dumps(learner_data(request), cls=DjangoJSONEncoder, indent=1, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="comms_lab-{request.user.pk}-{stamp}.json"'
    return response


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


def delete_learner(request: HttpRequest) -> dict[str, int]:
    """Delete the account and everything tied to it; returns how many rows of each kind went."""
    from lab import services as lab_services
    from lab.models import Run
    from lessons.models import LessonProgress
    from quizzes.models import Attempt, ReviewCard

    runs = list(_owned(Run, request))
    for run in runs:
        if run.is_active:
            try:
                lab_services.request_stop(run)
            except Exception as exc:  # Redis down: the run's worker still ends it by its deadline
                log.warning("could not stop run %s of a deleted account: %s", run.pk, exc)
    _forget_run_keys([str(run.pk) for run in runs if not run.is_active])
    with transaction.atomic():
        counts = {
            "lab_runs": _owned(Run, request).delete()[0],
            "quiz_attempts": _owned(Attempt, request).delete()[0],
            "review_cards": _owned(ReviewCard, request).delete()[0],
            "lesson_progress": _owned(LessonProgress, request).delete()[0],
        }
        request.user.delete()
    return counts


def _forget_run_keys(run_ids: list[str]) -> None:
    """A finished run's live log may linger in Redis until its TTL; remove it now."""
    from comms_lab.redis_client import redis_client, rkey

    try:
        client = redis_client()
        for run_id in run_ids:
            keys = list(client.scan_iter(rkey("run", run_id, "*"), count=500))
            if keys:
                client.delete(*keys)
    except Exception as exc:
        log.warning("run keys of a deleted account left to expire: %s", exc)


@login_required
@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        username = request.user.get_username()
        counts = delete_learner(request)
        logout(request)
        log.info("account deleted: %s", counts)
        messages.success(request, f"The account {username} and everything tied to it are deleted.")
        return redirect("home")
    return render(request, "registration/account.html", {"delete_form": form}, status=400 if form.errors else 200)
