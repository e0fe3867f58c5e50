"""Every page type except the lab's, in both colour schemes: axe-core finds no serious or critical violation, and
the enforced Content-Security-Policy reports nothing, including after htmx swaps (axe-core: tests/support/axe.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import Browser, Page, expect

from comms_lab.learners import SESSION_KEY, Learner
from lessons import services as lesson_services
from quizzes import services as quiz_services
from quizzes.banks import catalogue
from tests.integration.quizzes.conftest import right_form, wrong_form
from tests.support.axe import AXE_RUN
from tests.support.processes import WebServer

pytestmark = pytest.mark.e2e

QUIZ = "observability"  # no lab questions: the seeded attempts answer every question from the key
CSP_LISTENER = """document.addEventListener("securitypolicyviolation", e => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  (window.__csp = window.__csp || []).push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});"""


def known_learner(page: Page) -> Learner:
    store = SessionStore()
    store[SESSION_KEY] = uuid.uuid4().hex
    store.create()
    assert store.session_key is not None  # create() saved it under a new key
    page.context.add_cookies(
        [{"name": "sessionid", "value": store.session_key, "url": page.evaluate("location.origin")}]
    )
    return Learner(user_id=None, anonymous_id=store[SESSION_KEY])


def as_lists(form: dict[str, Any]) -> dict[str, list[str]]:
    return {key: [value] if isinstance(value, str) else value for key, value in form.items()}


def seed(learner: Learner) -> dict[str, str]:
    """Attempts at three stages (a question, its feedback, the results with a retry not open yet) and some lesson
    progress."""
    fresh = quiz_services.start_attempt(learner=learner, quiz=QUIZ, use_confidence=True)
    answered = quiz_services.start_attempt(learner=learner, quiz="rpc")
    first = catalogue().questions[answered.question_ids[0]]
    quiz_services.submit(
        learner=learner,
        attempt=answered,
        form={k: [v] if isinstance(v, str) else v for k, v in right_form(first).items()},
    )
    done = quiz_services.start_attempt(learner=learner, quiz=QUIZ)
    for qid in done.question_ids:
        # One wrong answer, so the results and quiz pages show the retry button, waiting for its delay.
        form = (wrong_form if qid == done.question_ids[0] else right_form)(catalogue().questions[qid])
        quiz_services.submit(learner=learner, attempt=done, form=as_lists(form))
        if qid != done.question_ids[-1]:
            done = quiz_services.advance(attempt=done, question_id=qid)
    quiz_services.finish(learner=learner, attempt=done)
    lesson_services.record_reading(learner=learner, slug="rpc", seconds=120)
    lesson_services.mark_lesson_completed(learner=learner, slug="sagas", reason="quiz")
    return {"question": str(fresh.id), "feedback": str(answered.id), "results": str(done.id)}


def pages(ids: dict[str, str]) -> list[str]:
    return [
        "/",
        "/lessons/",
        "/lessons/?q=jitter",
        "/lessons/?q=outbx",
        "/lessons/sagas/",  # tables, code, examples
        "/lessons/why-patterns-matter/",  # the widest diagrams
        "/glossary/",
        "/quizzes/",
        f"/quizzes/{QUIZ}/",
        f"/quizzes/attempts/{ids['question']}/",
        f"/quizzes/attempts/{ids['feedback']}/",
        f"/quizzes/attempts/{ids['results']}/",
        "/progress/",
        "/accounts/login/",
        "/accounts/signup/",
    ]


@pytest.fixture
def context_for(browser: Browser, web_server: WebServer, transactional_db: None) -> Iterator[Any]:
    made = []

    def make(**options: Any) -> Page:
        context = browser.new_context(base_url=web_server.url, **options)
        made.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in made:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_or_critical_axe_violation_on_any_page_type(context_for: Any, axe_js: Path, scheme: str) -> None:
    # axe is injected as a script, which the page's CSP would report: this context ignores the CSP.
    page = context_for(color_scheme=scheme, bypass_csp=True)
    page.goto("/")
    ids = seed(known_learner(page))
    found = {}
    for path in pages(ids):
        page.goto(path)
        page.add_script_tag(path=str(axe_js))
        violations = page.evaluate(AXE_RUN)
        if violations:
            found[path] = violations
    assert not found, found


def test_no_page_type_reports_a_csp_violation_even_after_htmx_swaps(context_for: Any) -> None:
    page = context_for()
    page.add_init_script(CSP_LISTENER)
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto("/")
    assert page.evaluate("() => !!document.querySelector('meta[name=htmx-config]')")
    ids = seed(known_learner(page))
    reported = {}
    for path in pages(ids):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        if path == "/lessons/sagas/":  # the end of the lesson swaps in its completion box
            page.locator("#lesson-end").scroll_into_view_if_needed()
            expect(page.locator("#completion")).to_contain_text("Completed")
            page.locator(".lesson-body a.term").first.focus()  # the definition popover
        if path == f"/quizzes/attempts/{ids['question']}/":  # an htmx answer swaps the quiz panel
            page.locator("input[name=choice], input[name=value], select").first.wait_for()
            page.locator("form.answer-form button[type=submit]").click()
            time.sleep(0.5)
        if violations := page.evaluate("window.__csp || []"):
            reported[path] = violations
    assert not reported, reported
    assert not console, console


def test_every_page_type_enforces_the_policy(page: Page) -> None:
    for path in ("/", "/lessons/", "/lessons/rpc/", "/glossary/", "/quizzes/", f"/quizzes/{QUIZ}/", "/progress/"):
        response = page.goto(path)
        assert response is not None
        enforced = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in enforced and "unsafe-inline" not in enforced, path
        assert "style-src 'self'" in enforced, path
    for path in ("/accounts/login/", "/lab/"):  # and every other page too
        response = page.goto(path)
        assert response is not None
        assert "script-src 'self'" in response.headers.get("content-security-policy", ""), path
