"""`{% continue_learning %}`: the home page's "continue where you left off" box; `{% bar percent %}`: the filled
part of a progress bar, drawn without an inline style so pages work under the Content-Security-Policy.

Usage: `{% load lessons_tags %}` then `{% continue_learning %}` anywhere the request is in the context.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from comms_lab.learners import current_learner
from lessons import selectors

register = template.Library()


@register.inclusion_tag("lessons/_continue_learning.html", takes_context=True)
def continue_learning(context: dict[str, Any]) -> dict[str, Any]:
    learner = current_learner(context["request"])
    statuses = selectors.remembered_progress(learner)
    return {"next": selectors.continue_learning(learner, statuses), "summary": selectors.progress_summary(statuses)}


@register.simple_tag
def bar(percent: float) -> SafeString:
    """An SVG that fills `percent` of its box (0-100): scales with the bar's CSS size, needs no style attribute."""
    value = max(0.0, min(100.0, float(percent or 0)))
    return format_html(
        '<svg class="bar-fill" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true" focusable="false">'
        '<rect width="{}" height="1"></rect></svg>',
        f"{value:g}",
    )
