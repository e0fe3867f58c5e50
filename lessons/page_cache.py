"""Whole pages rendered once per content version and learner state, for lessons, the glossary and quizzes.

Template rendering was most of a page's cost (issue 14: a page took 3-10x the CPU of a minimal view). A page's
HTML depends on the content, on what the learner has done (the view folds that into the cache key) and, per
request, only on the CSRF token of its forms and the lesson's visit token: those are rendered as placeholders and
filled in on the way out. A page is kept as UTF-8 pieces cut at those placeholders, so serving it is one
dictionary lookup and joining a few byte strings (searching and encoding a ~80 KB lesson per request cost ~0.1 ms).
A page without a form has no token to fill in (htmx sends the CSRF cookie's value, static/js/csrf.js), so it is
not masked anew.

The cache lives in the lessons catalog (`Catalog.cached`), so reloading the content drops it; it holds at most
MAX_BYTES of pages per process, least recently used first out. The key is the path (never the query string, so
made-up query strings cannot fill it), the signed-in name and what the view passes; requests carrying flash
messages render normally.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

from lessons.catalog import get_catalog

MAX_BYTES = 32 * 1024 * 1024
CSRF_PLACEHOLDER = "csrf-placeholder-7f3a9c1e"
VISIT_PLACEHOLDER = "visit-placeholder-2b8d4e6f"
_PLACEHOLDERS = re.compile(f"({CSRF_PLACEHOLDER}|{VISIT_PLACEHOLDER})")

# A rendered page: its text as UTF-8, with the placeholders (str) left where the per-request tokens go.
Page = tuple[bytes | str, ...]


def cut(html: str) -> Page:
    """The page in pieces: text (bytes) and, between them, the placeholders it holds."""
    return tuple(piece if n % 2 else piece.encode() for n, piece in enumerate(_PLACEHOLDERS.split(html)))


class _Pages:
    def __init__(self) -> None:
        self.pages: OrderedDict[Hashable, Page] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = self.size = 0

    def get(self, key: Hashable) -> Page | None:
        with self.lock:
            html = self.pages.get(key)
            if html is None:
                self.misses += 1
                return None
            self.pages.move_to_end(key)
            self.hits += 1
            return html

    def put(self, key: Hashable, page: Page) -> None:
        with self.lock:
            old = self.pages.pop(key, None)
            self.size += _size(page) - (_size(old) if old is not None else 0)
            self.pages[key] = page
            while self.size > MAX_BYTES and len(self.pages) > 1:
                self.size -= _size(self.pages.popitem(last=False)[1])


def _size(page: Page) -> int:
    return sum(len(piece) for piece in page)


def pages() -> _Pages:
    """This content version's page cache."""
    return get_catalog().cached("page-cache", _Pages)


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    key: Hashable,
    visit: str = "",
) -> HttpResponse:
    """`render(request, template, context)`, from the cache when the same page was rendered for the same `key`.

    `key` must capture everything in `context` that differs between learners or with the query string; the
    path and the signed-in user's name are added here. `visit`, when given, is the lesson's per-request visit token: the
    context carries VISIT_PLACEHOLDER where it goes.
    """
    if request.method != "GET" or list(get_messages(request)):
        return render(request, template, {**context, "visit": visit})
    user = getattr(request, "user", None)
    name = user.get_username() if user is not None and user.is_authenticated else ""
    full_key = (template, request.path, name, key)
    cache = pages()
    page = cache.get(full_key)
    if page is None:
        rendered = render(request, template, {**context, "csrf_token": CSRF_PLACEHOLDER, "visit": VISIT_PLACEHOLDER})
        page = cut(rendered.content.decode())
        cache.put(full_key, page)
    tokens = {VISIT_PLACEHOLDER: visit.encode()}
    if CSRF_PLACEHOLDER in page:  # a form that posts without JavaScript; htmx sends the cookie's value itself
        tokens[CSRF_PLACEHOLDER] = get_token(request).encode()
    return HttpResponse(b"".join(tokens[piece] if isinstance(piece, str) else piece for piece in page))
