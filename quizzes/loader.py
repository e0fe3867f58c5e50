"""`manage.py load_content` validates the question banks through this loader (it runs at every start)."""

from comms_lab.content import register_loader
from quizzes.banks import catalogue


@register_loader("quizzes")
def load_banks() -> str:
    catalogue.cache_clear()
    banks = catalogue()
    kinds: dict[str, int] = {}
    for question in banks.questions.values():
        kinds[question.type] = kinds.get(question.type, 0) + 1
    detail = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    return f"{len(banks.banks)} banks, {len(banks.questions)} questions ({detail})"
