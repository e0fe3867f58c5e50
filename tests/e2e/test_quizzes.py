"""A learner retries their wrong answers from the keyboard alone once the retry opens (the button says when), a
review asks another version of a question, and the dashboard shows the better score."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import Page, expect

from comms_lab.learners import SESSION_KEY, Learner
from quizzes import services
from quizzes.banks import Question, catalogue
from quizzes.models import Attempt

pytestmark = pytest.mark.e2e

QUIZ = "observability"  # no lab questions: every answer is in the key
WRONG = ("single", "ordering", "numeric")  # the first question of each type is answered wrong beforehand


def tab_to(page: Page, predicate: str, *, limit: int = 120) -> None:
    """Press Tab until the focused element satisfies `predicate` (a JS expression over `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return !!({predicate}); }})()"):
            return
    raise AssertionError(f"Tab never reached an element where {predicate}")


def focus_lands_on(page: Page, selector: str) -> None:
    """Wait until focus is on `selector` and htmx has finished settling the swap.

    Chromium focuses a newly inserted [autofocus] element by itself, up to 20 ms before htmx has wired up the
    swapped-in forms; a key pressed in that gap would submit a form the plain, non-htmx way.
    """
    page.wait_for_function(
        f"() => document.activeElement?.matches({selector!r})"
        " && !document.querySelector('.htmx-added, .htmx-settling, .htmx-swapping, .htmx-request')"
    )


def press_button(page: Page, label: str) -> None:
    tab_to(page, f"el.tagName === 'BUTTON' && el.textContent.trim().startsWith({label!r})")
    page.keyboard.press("Enter")


def returning_learner(page: Page) -> Learner:
    """A learner this browser is already known as (viewing pages alone records nothing, so give it a session)."""
    store = SessionStore()
    store[SESSION_KEY] = uuid.uuid4().hex
    store.create()
    assert store.session_key is not None  # create() saved it under a new key
    page.goto("/quizzes/")
    page.context.add_cookies(
        [{"name": "sessionid", "value": store.session_key, "url": page.evaluate("location.origin")}]
    )
    return Learner(user_id=None, anonymous_id=store[SESSION_KEY])


def seed_a_finished_attempt(
    page: Page, *, finished_at: datetime | None = None, wrong: list[Question] | None = None, confidence: str = ""
) -> tuple[Attempt, list[Question]]:
    """The learner's first attempt, answered through the services with three wrong answers (or `wrong`)."""
    learner = returning_learner(page)
    bank = catalogue().banks[QUIZ]
    wrong = wrong or [next(q for q in bank.questions if q.type == kind) for kind in WRONG]
    attempt = services.start_attempt(learner=learner, quiz=QUIZ, use_confidence=bool(confidence))
    for question in bank.questions:
        if question.type == "ordering":
            order = question.items if question not in wrong else reversed(question.items)
            form = {f"pos-{item.id}": [str(n)] for n, item in enumerate(order, 1)}
        elif question.type == "numeric":
            assert question.answer is not None  # a numeric question has its answer
            form = {"value": [str(question.answer + (1000 if question in wrong else 0))]}
        else:
            pick = question.correct_ids if question not in wrong else {o.id for o in question.options if not o.correct}
            form = {"choice": [sorted(pick)[0]] if question.type != "multiple" else sorted(pick)}
        if confidence:
            form["confidence"] = [confidence]
        services.submit(learner=learner, attempt=attempt, form={"question": [question.id], **form})
        if question is not bank.questions[-1]:
            services.advance(attempt=attempt, question_id=question.id)
    return services.finish(learner=learner, attempt=attempt, now=finished_at), wrong


def choose_radio(page: Page, option_id: str) -> None:
    values = page.locator("input[name=choice]").evaluate_all("els => els.map(e => e.value)")
    tab_to(page, "el.name === 'choice'")
    page.keyboard.press("Space")
    for _ in range(values.index(option_id)):
        page.keyboard.press("ArrowDown")


def put_in_order(page: Page, question: Question) -> None:
    """Selection sort with the Move up buttons: each move keeps focus on the button that was pressed."""
    for target, item in enumerate(question.items):
        current = page.locator(".order-list li").evaluate_all("els => els.map(e => e.dataset.item)").index(item.id)
        if current == target:
            continue
        tab_to(page, f"el.dataset.move === 'up' && el.closest('li').dataset.item === {item.id!r}")
        for _ in range(current - target):
            page.keyboard.press("Enter")
    order = page.locator(".order-list li").evaluate_all("els => els.map(e => e.dataset.item)")
    assert order == [i.id for i in question.items]
    # Nothing moves past the ends: those two buttons are disabled.
    expect(page.locator(".order-list li").first.locator('.move[data-move="up"]')).to_be_disabled()
    expect(page.locator(".order-list li").last.locator('.move[data-move="down"]')).to_be_disabled()
    expect(page.locator(".order-list li").first.locator('.move[data-move="down"]')).to_be_enabled()


def answer_right_by_keyboard(page: Page, question: Question) -> None:
    if question.type == "numeric":
        tab_to(page, "el.name === 'value'")
        page.keyboard.type(f"{question.answer:g}")
        page.keyboard.press("Enter")  # Enter in the field submits the form
        return
    if question.type == "ordering":
        put_in_order(page, question)
    else:
        choose_radio(page, next(iter(question.correct_ids)))
    press_button(page, "Check")


def test_a_learner_retries_wrong_answers_by_keyboard_and_the_dashboard_improves(page: Page) -> None:
    came_back = timezone.now() - services.retry_delay() - timedelta(minutes=1)  # the retry has opened
    _, (single, ordering, numeric) = seed_a_finished_attempt(page, finished_at=came_back)
    page.goto("/progress/")
    scores = page.locator("#quiz-scores")
    questions = len(catalogue().banks[QUIZ].questions)
    expect(scores).to_contain_text(f"{round(100 * (questions - 3) / questions)}%")  # all but the three wrong

    page.goto(f"/quizzes/{QUIZ}/")
    press_button(page, "Retry the wrong answers")
    progress = page.locator("#progress-label")
    expect(progress).to_contain_text("Question 1 of 3")
    retry = Attempt.objects.get(pk=page.url.rstrip("/").rsplit("/", 1)[1])

    status = page.get_by_role("status")
    retried = sorted((single, ordering, numeric), key=catalogue().banks[QUIZ].questions.index)  # in bank order
    for number, question in enumerate(retried, 1):
        question = services.shown_question(retry, question.id)  # another version where the bank has one
        expect(progress).to_contain_text(f"Question {number} of 3")
        if number > 1:
            focus_lands_on(page, "#q-title")
        answer_right_by_keyboard(page, question)
        expect(status).to_contain_text("Correct")
        focus_lands_on(page, ".feedback h3")  # the verdict, so a screen reader reads it next
        if number < 3:
            press_button(page, "Next question")
    expect(progress).to_contain_text("Score: 3 of 3 points")
    press_button(page, "Finish and see results")

    all_points = f"100%: {questions} of {questions} points, counting the {questions - 3} you already had"
    expect(page.locator(".results")).to_contain_text(all_points)
    focus_lands_on(page, ".results h2")
    tab_to(page, "el.tagName === 'A' && el.textContent.trim() === 'See your progress'")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/progress/$"))
    expect(scores).to_contain_text("100%")
    expect(page.locator("#mastery-table")).to_be_visible()


def as_read(markdown: str) -> str:
    """A prompt's words as the page shows them: no code or emphasis marks, lines joined."""
    return " ".join(re.sub(r"[`*]", "", markdown).split())


def test_the_retry_button_says_when_the_wrong_answers_come_back(page: Page) -> None:
    attempt, _ = seed_a_finished_attempt(page)  # just finished: the retry is not open yet
    assert attempt.finished_at is not None
    opens = (attempt.finished_at + services.retry_delay()).strftime("%H:%M")
    minutes = services.retry_delay() // timedelta(minutes=1)
    for url in (f"/quizzes/attempts/{attempt.id}/", f"/quizzes/{QUIZ}/"):
        page.goto(url)
        button = page.locator(".retry-form button")
        expect(button).to_be_disabled()
        expect(button).to_contain_text(f"available at {opens} UTC, in {minutes} minutes")
        expect(button).to_have_accessible_description(re.compile(f"come back {minutes} minutes after an attempt ends"))
    expect(page.locator(".retry-form button")).to_contain_text(
        "Retry the wrong answers of your latest finished attempt"
    )


def test_the_retry_button_turns_on_by_itself_when_the_pause_is_over(page: Page) -> None:
    almost = timezone.now() - services.retry_delay() + timedelta(seconds=4)  # opens about 4 s from now
    attempt, _ = seed_a_finished_attempt(page, finished_at=almost)
    page.goto(f"/quizzes/attempts/{attempt.id}/")
    button = page.locator(".retry-form button")
    expect(button).to_be_disabled()
    expect(button).to_have_text(re.compile(r"^Retry my 3 wrong answers: available at \d\d:\d\d UTC, in 1 minute$"))
    expect(button).to_be_enabled(timeout=15_000)
    expect(button).to_have_text("Retry my 3 wrong answers")
    expect(page.locator("[data-retry-status]")).to_have_text("You can retry your wrong answers now.")
    button.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#progress-label")).to_contain_text("Question 1 of 3")


def test_a_review_asks_another_version_of_a_question_answered_wrong(page: Page) -> None:
    varied = next(q for q in catalogue().banks[QUIZ].questions if q.type == "numeric" and len(q.variants) == 1)
    seed_a_finished_attempt(page, wrong=[varied], confidence="high")  # a confident slip: due for review at once
    page.goto("/quizzes/")
    press_button(page, "Review now")
    expect(page.locator("#progress-label")).to_contain_text("Question 1 of 1")
    expect(page.locator(".variant-note")).to_contain_text("Another version of a question you have answered before")
    variant = varied.variants[0]
    prompt = page.locator(".question .prompt")
    expect(prompt).to_contain_text(as_read(variant.prompt)[:60])
    expect(prompt).not_to_contain_text(as_read(varied.prompt)[:60])
    answer_right_by_keyboard(page, variant)  # the variant's own number is the key
    expect(page.get_by_role("status")).to_contain_text("Correct")
    expect(page.get_by_role("status")).to_contain_text(f"The answer is {variant.answer:g} {variant.unit}")
