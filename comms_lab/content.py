"""One `load_content` for every app: each app registers a loader that validates its files and loads them.

A loader returns a one-line report and raises `ContentError` naming the file and field on bad content.
"""

from __future__ import annotations

from collections.abc import Callable


class ContentError(Exception):
    """Content that cannot be loaded; the message names the file and the field or question id."""


Loader = Callable[[], str]
LOADERS: dict[str, Loader] = {}


def register_loader(name: str) -> Callable[[Loader], Loader]:
    def wrap(loader: Loader) -> Loader:
        LOADERS[name] = loader
        return loader

    return wrap
