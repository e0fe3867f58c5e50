"""`{% continue_learning %}`: the home page's "continue where you left off" box.

Usage: `{% load lessons_tags %}` then `{% continue_learning %}` anywhere the request is in the context.
"""

from __future__ import annotations

from typing import Any

from django import template

from comms_lab.learners import learner_for
from lessons import selectors

register = template.Library()


@register.inclusion_tag("lessons/_continue_learning.html", takes_context=True)
def continue_learning(context: dict[str, Any]) -> dict[str, Any]:
    learner = learner_for(context["request"])
    statuses = selectors.lesson_progress(learner)
    return {"next": selectors.continue_learning(learner), "summary": selectors.progress_summary(statuses)}
