"""Every lesson page renders, every link on it leads somewhere real, and the index, search and glossary work."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client, RequestFactory

from comms_lab.learners import SESSION_KEY, Learner
from lessons import services
from lessons.catalog import get_catalog

pytestmark = pytest.mark.django_db

SLUGS = [lesson.slug for lesson in get_catalog().lessons]
_visited: dict[str, tuple[int, set[str]]] = {}  # path -> (status, element ids), shared by the lesson tests


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(found["href"] or "")
        if found.get("id"):
            self.ids.add(found["id"] or "")


def parse(html: str) -> _Links:
    links = _Links()
    links.feed(html)
    return links


def visit(client: Client, path: str) -> tuple[int, set[str]]:
    if path not in _visited:
        response = client.get(path)
        _visited[path] = (response.status_code, parse(response.content.decode()).ids)
    return _visited[path]


@pytest.mark.parametrize("slug", SLUGS)
def test_it_renders_every_lesson_and_every_internal_link_on_it_resolves(client: Client, slug: str) -> None:
    response = client.get(f"/lessons/{slug}/")
    assert response.status_code == 200
    page = parse(response.content.decode())
    broken = []
    for href in page.hrefs:
        path, _, fragment = href.partition("#")
        if not path:  # a link within the page
            if fragment not in page.ids:
                broken.append(href)
            continue
        if not path.startswith("/"):
            continue
        status, ids = visit(client, path)
        if status != 200 or (fragment and fragment not in ids):
            broken.append(f"{href} ({status})")
    assert not broken, broken


def test_it_shows_the_lessons_parts_in_their_order(client: Client) -> None:
    html = client.get("/lessons/failure-handling/").content.decode()
    parts = [
        'id="lesson-title"',
        'id="toc-title"',
        'id="objectives-title"',
        'id="common-misconceptions"',
        'id="try-it-in-the-lab"',
        'href="/lab/cascade/?preset=circuit-breaker"',
        'id="check-yourself"',
        'href="/quizzes/failure-handling/"',
        'id="summary"',
        'id="lesson-end"',
        'rel="next" href="/lessons/idempotency/"',
    ]
    positions = [html.index(part) for part in parts]
    assert positions == sorted(positions)
    assert "min read" in html


def test_it_says_coming_soon_for_a_planned_experiment(client: Client) -> None:
    lesson = next(lesson for lesson in get_catalog().lessons if any(link.planned for link in lesson.lab))
    html = client.get(lesson.url).content.decode()
    assert "coming soon" in html


def test_it_answers_404_for_an_unknown_lesson(client: Client) -> None:
    assert client.get("/lessons/no-such-lesson/").status_code == 404


def long_ago_visit(slug: str, seconds: float = 3600) -> str:
    """The token a lesson page served `seconds` ago carries."""
    return services.visit_token(slug=slug, read_seconds=0, now=time.time() - seconds)


def test_it_counts_a_lesson_read_to_the_end_without_javascript(client: Client) -> None:
    client.get("/lessons/rpc/")
    response = client.post("/lessons/rpc/complete/", {"visit": long_ago_visit("rpc")})
    assert response.status_code == 302
    assert response["Location"] == "/lessons/rpc/#lesson-end"
    index = client.get("/lessons/").content.decode()
    assert f"<strong>1 of {len(SLUGS)}</strong> lessons completed" in index
    assert 'aria-valuenow="1"' in index
    assert "(read to the end)" in index


def test_it_answers_htmx_with_the_completion_box_and_the_new_status(client: Client) -> None:
    response = client.post(
        "/lessons/rpc/complete/",
        {"visit": long_ago_visit("rpc"), "seconds": "900"},
        headers={"HX-Request": "true", "HX-Target": "completion"},
    )
    html = response.content.decode()
    assert "<html" not in html
    assert "<strong>Completed</strong>: you read it to the end (15 min on the page)." in html
    assert 'id="lesson-status" class="badge lesson-completed" hx-swap-oob="true"' in html


def test_it_only_completes_lessons_by_post(client: Client) -> None:
    assert client.get("/lessons/rpc/complete/").status_code == 405


def test_it_shows_in_progress_once_the_learner_has_read_for_a_while(client: Client) -> None:
    client.get("/lessons/sagas/")
    assert "in progress" not in client.get("/lessons/").content.decode()  # opening it alone records nothing
    assert client.post("/lessons/sagas/reading/", {"visit": long_ago_visit("sagas"), "seconds": 20}).status_code == 204
    index = client.get("/lessons/").content.decode()
    assert f"<strong>0 of {len(SLUGS)}</strong> lessons completed, 1 in progress" in index
    assert 'class="badge lesson-in_progress">in progress</span>' in index


def test_it_finds_a_lesson_by_a_word_in_its_body(client: Client) -> None:
    lesson = get_catalog().lesson("sync-vs-async")
    assert lesson is not None
    assert "Stripe" in lesson.text and "Stripe" not in lesson.title + lesson.summary
    html = client.get("/lessons/", {"q": "stripe"}).content.decode()
    results = html[html.index('id="search-results"') : html.index("All lessons")]
    assert 'href="/lessons/sync-vs-async/"' in results
    assert "<mark>Stripe</mark>" in results


def test_it_answers_live_search_with_the_results_alone(client: Client) -> None:
    response = client.get(
        "/lessons/", {"q": "consumer group"}, headers={"HX-Request": "true", "HX-Target": "search-results"}
    )
    html = response.content.decode()
    assert "<html" not in html and "All lessons" not in html
    assert 'href="/lessons/event-streams/"' in html


def test_it_says_when_nothing_matches(client: Client) -> None:
    html = client.get("/lessons/", {"q": "xylophone"}).content.decode()
    assert "0 lessons mention “xylophone”" in html


def test_it_defines_every_glossary_term_with_an_anchor_and_where_it_is_used(client: Client) -> None:
    response = client.get("/glossary/")
    assert response.status_code == 200
    html = response.content.decode()
    ids = parse(html).ids
    assert set(get_catalog().glossary) <= ids
    jitter = html[html.index('id="jitter"') :]
    jitter = jitter[: jitter.index("</dd>")]
    assert 'href="/lessons/failure-handling/"' in jitter


def test_it_offers_to_continue_where_the_learner_left_off() -> None:
    request = RequestFactory().get("/")
    request.session = SessionStore()
    request.session[SESSION_KEY] = "c" * 32
    template = Template("{% load lessons_tags %}{% continue_learning %}")

    assert "Start here" in template.render(Context({"request": request}))

    services.mark_lesson_opened(learner=Learner(user_id=None, anonymous_id="c" * 32), slug="ordering")
    html = template.render(Context({"request": request}))
    assert "Continue where you left off" in html
    assert re.search(r'href="/lessons/ordering/">Lesson 14: ', html)


def test_it_validates_everything_in_load_content(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("load_content")
    assert f"lessons: {len(SLUGS)} lessons and" in capsys.readouterr().out
