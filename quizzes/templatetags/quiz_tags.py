"""Template helpers for quiz pages: bank Markdown rendered safely, and percentages."""

from __future__ import annotations

import functools
import re

import markdown
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

_ALLOWED_TAGS = {
    "p",
    "strong",
    "em",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "a",
    "br",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_SINGLE_PARAGRAPH = re.compile(r"^<p>(.*)</p>$", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _render(text: str, inline: bool) -> str:
    html = nh3.clean(markdown.markdown(text, extensions=["tables"]), tags=_ALLOWED_TAGS)
    match = _SINGLE_PARAGRAPH.match(html.strip()) if inline else None
    return match.group(1) if match and "<p>" not in match.group(1) else html


@register.filter
def md(text: str) -> SafeString:
    """Bank Markdown (prompts, explanations) as sanitised HTML; banks are ours, but the output stays tag-limited."""
    return mark_safe(_render(text or "", False))  # noqa: S308 - nh3 sanitised it


@register.filter
def md_inline(text: str) -> SafeString:
    """Like md, without the wrapping paragraph, for option and item labels."""
    return mark_safe(_render(text or "", True))  # noqa: S308 - nh3 sanitised it


@register.filter
def num(value: float | None) -> str:
    """A number as a person would write it: 412.3, 0.456, 1850 (at most three decimals, no trailing zeros)."""
    if value is None:
        return "—"
    return f"{value:.3f}".rstrip("0").rstrip(".")


@register.filter
def pct(fraction: float | None) -> str:
    """A fraction as a whole percentage; "—" when there is none yet (the template may pass "" for a missing one)."""
    return f"{round(100 * fraction)}%" if isinstance(fraction, int | float) else "—"
