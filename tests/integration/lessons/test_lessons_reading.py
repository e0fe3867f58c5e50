"""Reading that counts, page views that write nothing, the fewest queries, and pages rendered once per content
version."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client

from comms_lab.learners import SESSION_KEY, Learner
from lab import services as lab_services
from lab.models import Run
from lessons import diagrams, page_cache, selectors, services
from lessons.catalog import Lesson, get_catalog
from lessons.models import LessonProgress

pytestmark = pytest.mark.django_db

SLUG = "sagas"


def visit(slug: str = SLUG, *, ago: float, read_before: int = 0) -> str:
    return services.visit_token(slug=slug, read_seconds=read_before, now=time.time() - ago)


def the_lesson() -> Lesson:
    lesson = get_catalog().lesson(SLUG)
    assert lesson is not None
    return lesson


def required() -> int:
    return services.required_read_seconds(the_lesson())


def first_group(pattern: str, html: str) -> str:
    found = re.search(pattern, html)
    assert found, pattern
    return found[1]


def learner_of(client: Client) -> Learner:
    return Learner(user_id=None, anonymous_id=client.session[SESSION_KEY])


def test_a_lesson_needs_a_share_of_its_reading_time_and_at_least_twenty_seconds() -> None:
    lesson = the_lesson()
    assert required() == max(20, round(0.4 * lesson.reading_minutes * 60))
    assert required() >= 20


def test_it_does_not_complete_a_lesson_whose_end_is_reached_in_seconds(client: Client) -> None:
    response = client.post(f"/lessons/{SLUG}/complete/", {"visit": visit(ago=2)}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<strong>Not counted yet</strong>: you have spent 0 min on this lesson." in html
    assert f"It counts as read after about {round(required() / 60) or 1} min on the page" in html
    # A visitor who has done nothing worth keeping yet still has no session and no row.
    assert not Session.objects.exists() and not LessonProgress.objects.exists()


def test_a_known_learner_who_jumps_to_the_end_keeps_the_lesson_in_progress(client: Client) -> None:
    returning(client)
    client.post(f"/lessons/{SLUG}/complete/", {"visit": visit(ago=2, read_before=60)})
    assert selectors.lesson_status(learner_of(client), SLUG).status == "in_progress"


def test_reading_reports_under_fifteen_seconds_from_a_new_visitor_record_nothing(client: Client) -> None:
    assert client.post(f"/lessons/{SLUG}/reading/", {"visit": visit(ago=5), "seconds": 5}).status_code == 204
    assert not Session.objects.exists() and not LessonProgress.objects.exists()


def test_it_completes_a_lesson_read_for_long_enough(client: Client) -> None:
    response = client.post(
        f"/lessons/{SLUG}/complete/",
        {"visit": visit(ago=required() + 5), "seconds": required()},
        headers={"HX-Request": "true"},
    )
    assert "<strong>Completed</strong>: you read it to the end" in response.content.decode()
    status = selectors.lesson_status(learner_of(client), SLUG)
    assert (status.status, status.reason, status.read_seconds) == ("completed", "read", required())


def test_the_page_cannot_claim_more_time_than_has_passed_since_it_was_served(client: Client) -> None:
    client.post(f"/lessons/{SLUG}/complete/", {"visit": visit(ago=30), "seconds": 100_000})
    status = selectors.lesson_status(learner_of(client), SLUG)
    assert status.status == "in_progress"
    assert 30 <= status.read_seconds <= 32


def test_reading_time_adds_up_over_visits(client: Client) -> None:
    half = required() // 2 + 1
    client.post(f"/lessons/{SLUG}/reading/", {"visit": visit(ago=half), "seconds": half})
    learner = learner_of(client)
    assert selectors.lesson_status(learner, SLUG).read_seconds == half
    # The second visit's page was served knowing the first visit's time.
    client.post(f"/lessons/{SLUG}/complete/", {"visit": visit(ago=half, read_before=half), "seconds": half})
    assert selectors.lesson_status(learner, SLUG).status == "completed"


def test_a_forged_or_foreign_visit_token_counts_nothing(client: Client) -> None:
    assert client.post(f"/lessons/{SLUG}/reading/", {"visit": "forged", "seconds": 900}).status_code == 400
    other = visit("rpc", ago=3600)
    assert client.post(f"/lessons/{SLUG}/reading/", {"visit": other, "seconds": 900}).status_code == 400
    assert not LessonProgress.objects.exists()


def test_a_passed_quiz_completes_the_lesson_and_the_page_says_so(client: Client) -> None:
    client.post(f"/lessons/{SLUG}/reading/", {"visit": visit(ago=20), "seconds": 20})
    services.mark_lesson_completed(learner=learner_of(client), slug=SLUG, reason="quiz")
    html = client.get(f"/lessons/{SLUG}/").content.decode()
    assert "<strong>Completed</strong>: you passed its quiz." in html


def test_a_cookieless_view_of_any_page_writes_nothing() -> None:
    client = Client()
    for path in ("/", "/lessons/", f"/lessons/{SLUG}/", "/glossary/", "/quizzes/", f"/quizzes/{SLUG}/", "/progress/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "sessionid" not in response.cookies, path
    assert Session.objects.count() == 0
    assert LessonProgress.objects.count() == 0


def test_reading_for_a_while_is_what_creates_the_session_and_the_progress_row(client: Client) -> None:
    client.get(f"/lessons/{SLUG}/")
    assert Session.objects.count() == 0
    client.post(f"/lessons/{SLUG}/reading/", {"visit": visit(ago=15), "seconds": 15})
    assert Session.objects.count() == 1
    assert LessonProgress.objects.get().read_seconds == 15


def returning(client: Client) -> Client:
    """A learner with a session and some progress."""
    client.post(f"/lessons/{SLUG}/reading/", {"visit": visit(ago=60), "seconds": 60})
    client.post("/lessons/rpc/complete/", {"visit": visit("rpc", ago=3600)})
    return client


@pytest.mark.parametrize(
    ("path", "after_a_change", "again"),
    [
        ("/lessons/", 1, 0),  # the learner's progress rows, then nothing (the session is read from Redis)
        (f"/lessons/{SLUG}/", 1, 0),  # the same rows (shared with the index), then nothing
        ("/glossary/", 0, 0),  # the header only asks whether the learner is signed in: the session says so
        ("/", 2, 0),  # progress rows (continue where you left off) and recent lab runs, then nothing
    ],
)
def test_a_returning_learners_page_takes_the_fewest_queries(
    client: Client, django_assert_num_queries: object, path: str, after_a_change: int, again: int
) -> None:
    returning(client)
    with django_assert_num_queries(after_a_change):  # type: ignore[operator]
        assert client.get(path).status_code == 200
    with django_assert_num_queries(again):  # type: ignore[operator]
        assert client.get(path).status_code == 200


def test_the_home_page_shows_a_runs_new_status_on_the_next_view(client: Client) -> None:
    returning(client)
    learner = learner_of(client)
    run = Run.objects.create(experiment="checkout", config={}, anonymous_id=learner.anonymous_id)
    status = r'<span class="badge status-(\w+)">'
    assert first_group(status, client.get("/").content.decode()) == "queued"
    assert first_group(status, client.get("/").content.decode()) == "queued"  # remembered
    lab_services.claim_run(str(run.id))  # a worker takes it (a bulk update, no model signal)
    assert first_group(status, client.get("/").content.decode()) == "running"
    run.status = Run.Status.FINISHED
    run.save()
    assert first_group(status, client.get("/").content.decode()) == "finished"


def test_a_returning_learner_sees_new_progress_on_the_next_page(client: Client) -> None:
    completed = r"<strong>(\d+) of \d+</strong> lessons completed"
    returning(client)
    assert first_group(completed, client.get("/lessons/").content.decode()) == "1"
    client.post(f"/lessons/{SLUG}/complete/", {"visit": visit(ago=3600)})
    assert first_group(completed, client.get("/lessons/").content.decode()) == "2"


@pytest.mark.parametrize(
    "path", ["/", "/lessons/", f"/lessons/{SLUG}/", "/glossary/", "/quizzes/", f"/quizzes/{SLUG}/"]
)
def test_a_first_visit_takes_no_query(client: Client, django_assert_num_queries: object, path: str) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert client.get(path).status_code == 200


def test_a_signed_in_learners_lesson_page_takes_two_queries_then_one(
    client: Client, django_assert_num_queries: object
) -> None:
    user = User.objects.create_user("ada", password="correct-horse-battery")
    client.force_login(user)
    with django_assert_num_queries(2):  # type: ignore[operator]  # the user, their progress rows
        client.get(f"/lessons/{SLUG}/")
    with django_assert_num_queries(1):  # type: ignore[operator]  # the user (Django's auth reads it per request)
        client.get(f"/lessons/{SLUG}/")


def test_a_lesson_page_is_rendered_once_per_content_version(client: Client) -> None:
    catalog = get_catalog()
    client.get(f"/lessons/{SLUG}/")
    cached = catalog.cached(f"page:{SLUG}", lambda: pytest.fail("rendered again"))
    assert cached["body"] in client.get(f"/lessons/{SLUG}/").content.decode()
    client.get("/glossary/")
    assert "page:glossary" in catalog._built


def test_search_tolerates_one_typo_and_says_what_it_searched_for(client: Client) -> None:
    html = client.get("/lessons/", {"q": "outbx"}).content.decode()
    results = html[html.index('id="search-results"') : html.index("All lessons")]
    assert "No lesson uses “outbx” as typed, so these results are for\n      <mark>outbox</mark>." in results
    outbox = [lesson.slug for lesson in get_catalog().lessons if "outbox" in lesson.title.lower() + lesson.text.lower()]
    assert outbox and all(f'href="/lessons/{slug}/"' in results for slug in outbox)


@pytest.mark.parametrize(("typed", "meant"), [("jtter", "jitter"), ("jittre", "jitter"), ("sagaas", "sagas")])
def test_search_corrects_a_missing_extra_or_swapped_letter(typed: str, meant: str) -> None:
    result = selectors.search(typed)
    assert meant in result.corrections[typed]
    assert result.hits


def test_search_does_not_guess_for_short_words() -> None:
    assert selectors.search("qz").hits == []


def test_lesson_pages_carry_no_inline_style_or_script(client: Client) -> None:
    returning(client)
    for path in ("/", "/lessons/", *(lesson.url for lesson in get_catalog().lessons), "/glossary/", "/progress/"):
        html = client.get(path).content.decode()
        assert not re.search(r"\sstyle=|<style|<script(?![^>]*\bsrc=)(?![^>]*application/json)", html), path


def test_every_lesson_diagram_fits_the_column_with_legible_text() -> None:
    """A laptop's text column is 782 px; a drawing up to MAX_WIDTH scales to it with text of 10 px or more."""
    for lesson in get_catalog().lessons:
        for width in re.findall(r'<svg class="diagram-svg"[^>]*width="([\d.]+)"', lesson.html):
            assert float(width) <= diagrams.MAX_WIDTH, lesson.slug
            assert 13 * 782 / max(782, float(width)) >= 10


def test_a_cached_pages_form_posts_without_javascript_with_a_token_masked_afresh_for_each_view() -> None:
    client = Client(enforce_csrf_checks=True)
    tokens = []
    for _ in range(2):
        html = client.get(f"/lessons/{SLUG}/").content.decode()
        assert page_cache.CSRF_PLACEHOLDER not in html and page_cache.VISIT_PLACEHOLDER not in html
        tokens.append(first_group(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))
    # The same secret, masked differently in each response (Django's defence against BREACH).
    assert tokens[0] != tokens[1] and client.cookies["csrftoken"].value not in tokens
    assert page_cache.pages().hits >= 1
    form = {"csrfmiddlewaretoken": tokens[0], "visit": visit(ago=3600)}
    response = client.post(f"/lessons/{SLUG}/complete/", form)
    assert (response.status_code, response["Location"]) == (302, f"{the_lesson().url}#lesson-end")


def test_a_first_visit_to_a_page_without_a_form_gets_the_cookie_that_htmx_sends_back() -> None:
    client = Client(enforce_csrf_checks=True)
    html = client.get("/lessons/").content.decode()
    assert "csrfmiddlewaretoken" not in html  # nothing on the page to post: no token, no masking per view
    cookie = client.cookies["csrftoken"].value
    htmx = {"HX-Request": "true", "X-CSRFToken": cookie}  # what static/js/csrf.js adds to every htmx request
    response = client.post(f"/lessons/{SLUG}/complete/", {"visit": visit(ago=3600)}, headers=htmx)
    assert response.status_code == 200 and "Completed" in response.content.decode()


@pytest.mark.parametrize("token", [None, "forged-0123456789abcdef0123456789abcdef"])
def test_a_cross_site_post_without_the_secret_is_refused(token: str | None) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/lessons/")  # the browser holds the cookie; another site cannot read it
    headers = {"HX-Request": "true", **({"X-CSRFToken": token} if token else {})}
    response = client.post(f"/lessons/{SLUG}/complete/", {"visit": visit(ago=3600)}, headers=headers)
    assert response.status_code == 403
    assert not LessonProgress.objects.exists()


def test_a_cached_page_changes_with_what_the_learner_has_done(client: Client) -> None:
    returning(client)
    assert "in progress" in client.get(f"/lessons/{SLUG}/").content.decode()
    services.mark_lesson_completed(learner=learner_of(client), slug=SLUG, reason="quiz")
    assert "<strong>Completed</strong>: you passed its quiz." in client.get(f"/lessons/{SLUG}/").content.decode()


def test_made_up_query_strings_do_not_fill_the_page_cache(client: Client) -> None:
    client.get("/glossary/")
    before = len(page_cache.pages().pages)
    for n in range(20):
        assert client.get("/glossary/", {"n": n}).status_code == 200
        assert client.get("/lessons/", {"q": f"word{n}"}).status_code == 200  # search results are not cached
    assert len(page_cache.pages().pages) == before


def test_the_page_cache_keeps_within_its_byte_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page_cache, "MAX_BYTES", 1000)
    cache = page_cache._Pages()
    for n in range(10):
        cache.put(n, page_cache.cut("x" * 300))
    assert cache.size <= 1000 and list(cache.pages) == [7, 8, 9]
