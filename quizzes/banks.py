"""Question banks: YAML files in quizzes/banks/, parsed into frozen dataclasses and validated as a whole.

Banks are content, not database rows: a process reads them once (`banks()` is cached) and attempts store only
question ids. Validation collects every problem in one pass so an author fixes a bank in one round, and each
message names the file, the question id and the field.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from django.conf import settings

from comms_lab.content import ContentError

if TYPE_CHECKING:
    from lab.model.topology import Topology

BANKS_DIR = Path(__file__).resolve().parent / "banks"
LESSONS_DIR = Path(settings.BASE_DIR) / "lessons" / "content"

CHOICE_TYPES = ("single", "scenario", "true_false", "multiple")
TYPES = (*CHOICE_TYPES, "ordering", "numeric", "lab")
_COMMON_FIELDS = {"id", "type", "concepts", "prompt"}
_TYPE_FIELDS: dict[str, set[str]] = {
    "single": {"options"},
    "scenario": {"options"},
    "true_false": {"options"},
    "multiple": {"options"},
    "ordering": {"items", "explanation"},
    "numeric": {"answer", "tolerance", "unit", "explanation", "wrong_answers"},
    "lab": {"experiment", "preset", "prediction", "metric", "unit", "explanation", "tolerance"},
}
_OPTIONAL_FIELDS = {"wrong_answers", "tolerance", "variants"}
# A lab question's answer is one run of one preset, so it has no alternative versions.
_VARIANT_TYPES = frozenset(TYPES) - {"lab"}
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

# The run summary keys a lab question may read (docs/content-format.md); per-class and construct figures depend on
# the experiment (experiment_metrics).
_OUTCOME_METRICS = (
    "requests",
    "succeeded",
    "failed",
    "success_rate_pct",
    "throughput_rps",
    "goodput_rps",
    "latency_ms.p50",
    "latency_ms.p95",
    "latency_ms.p99",
)
RUN_METRICS = frozenset(
    {
        *_OUTCOME_METRICS,
        "retries_per_request",
        "dlq_count",
        "max_queue_depth",
        "final_queue_depth",
        "breaker_opened",
        "calls_while_open",
        "duplicates_processed",
        "missed_messages",
    }
)


def experiment_metrics(topology: Topology) -> frozenset[str]:
    """What a run of this experiment's summary holds besides RUN_METRICS: each request class's figures under
    `by_<group_by>.<class>`, the reply counts (`replies.*`) when it has a reply link, the saga counts (`sagas.*`)
    when it runs sagas, the stream counts (`streams.*`, per consumer group and, with classes, per class; for a group
    that projects the stream, its read model's figures) when it has a stream, the counters of its `effect_once`
    invariants (`effects.<event>.*`) and each queue's and subscription's message figures (`messages.<queue>.*`)."""
    from lab.model.invariants import effect_metrics
    from lab.model.outcomes import (
        ORDER_COUNTS,
        PROJECTION_FIGURES,
        REPLY_FIGURES,
        SAGA_FIGURES,
        STREAM_FIGURES,
        STREAM_GROUP_FIGURES,
    )
    from lab.model.topology import has_sagas, projected_groups

    found: set[str] = set()
    if topology.workload.group_by:
        for request_class in topology.workload.classes:
            found |= {f"by_{topology.workload.group_by}.{request_class.name}.{m}" for m in _OUTCOME_METRICS}
    if any(link.kind == "reply" for link in topology.links.values()):
        found |= {f"replies.{figure}" for figure in REPLY_FIGURES}
    if has_sagas(topology):
        found |= {f"sagas.{figure}" for figure in SAGA_FIGURES}
    classes = [c.name for c in topology.workload.classes]
    found |= set(effect_metrics(topology.invariants, group_by=topology.workload.group_by, classes=classes))
    for link in (link for link in topology.links.values() if link.kind == "stream"):
        found |= {f"streams.{figure}" for figure in STREAM_FIGURES}
        for group in link.groups:
            found |= {f"streams.groups.{group.id}.{figure}" for figure in STREAM_GROUP_FIGURES}
            for request_class in topology.workload.classes if topology.workload.group_by else ():
                per_class = f"streams.groups.{group.id}.by_{topology.workload.group_by}.{request_class.name}"
                found |= {f"{per_class}.{figure}" for figure in ORDER_COUNTS}
        for group in projected_groups(link, topology.services):
            found |= {f"streams.groups.{group.id}.{figure}" for figure in PROJECTION_FIGURES}
    return frozenset(found | _queue_metrics(topology))


def _queue_metrics(topology: Topology) -> set[str]:
    """`messages.<queue>.<figure>` (summary.messages) per queue and subscription; `by_consumer.<n>` for each consumer
    it may have: up to its live consumer count's maximum, or its consumer service's instances."""
    from lab.model.metrics import MESSAGE_FIGURES

    consumer_of = {link.id: link.target for link in topology.links.values()}
    consumer_of |= {sub.id: sub.to for link in topology.links.values() for sub in link.subscriptions}
    found: set[str] = set()
    for queue in topology.queues():
        knob = topology.schema.by_name.get(f"{queue}.consumers")
        service = topology.services.get(consumer_of[queue])
        most = int(knob.maximum or 1) if knob else service.instances if service else 1
        found |= {f"messages.{queue}.{figure}" for figure in MESSAGE_FIGURES}
        found |= {f"messages.{queue}.by_consumer.{n}" for n in range(1, most + 1)}
    return found


@dataclass(frozen=True)
class Option:
    id: str
    text: str
    correct: bool
    explanation: str


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    explanation: str


@dataclass(frozen=True)
class WrongAnswer:
    value: float
    explanation: str


@dataclass(frozen=True)
class Question:
    """One question. Which fields are filled depends on `type`; a lab question keeps its prediction in `options`."""

    id: str
    type: str
    quiz: str
    concepts: tuple[str, ...]
    prompt: str
    options: tuple[Option, ...] = ()
    items: tuple[Item, ...] = ()
    answer: float | None = None
    tolerance: float | None = None
    unit: str = ""
    explanation: str = ""
    wrong_answers: tuple[WrongAnswer, ...] = ()
    experiment: str = ""
    preset: str = ""
    metric: str = ""
    # Spaced review and retries show another version of the question (content-format.md, "Variants"): each variant
    # is a Question with the same id, type and concepts; `variant` names it ("" for the bank's own wording).
    variant: str = ""
    variants: tuple[Question, ...] = ()

    @property
    def variant_ids(self) -> tuple[str, ...]:
        """Every version a learner can be shown: "" (the question as written) first, then its variants."""
        return ("", *(v.variant for v in self.variants))

    def in_variant(self, variant: str) -> Question:
        """The question as shown in `variant`; an id the bank no longer has falls back to the question as written."""
        return next((v for v in self.variants if v.variant == variant), self)

    @property
    def correct_ids(self) -> frozenset[str]:
        return frozenset(o.id for o in self.options if o.correct)

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)

    @property
    def has_prediction(self) -> bool:
        return self.type == "lab"

    @property
    def reviewable(self) -> bool:
        """Lab questions depend on a run made at one moment, so the spaced-review queue leaves them out."""
        return self.type != "lab"


@dataclass(frozen=True)
class Bank:
    quiz: str
    title: str
    pass_mark: float
    order: int
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class Catalogue:
    """All banks by quiz slug and all questions by id, in lesson order."""

    banks: dict[str, Bank]
    questions: dict[str, Question]

    def bank(self, quiz: str) -> Bank | None:
        return self.banks.get(quiz)

    def question(self, question_id: str) -> Question | None:
        return self.questions.get(question_id)

    def questions_for_concept(self, concept: str) -> list[Question]:
        return [q for q in self.questions.values() if concept in q.concepts]


class _Problems:
    """Collects every validation problem as "file: question id: field: message"."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, field: str, message: str) -> None:
        self.lines.append(f"{where}: {field}: {message}")


def lesson_orders() -> dict[str, int]:
    """Lesson slug → guided order, from the file names `lessons/content/NN-<slug>.md`."""
    orders = {}
    for path in LESSONS_DIR.glob("*-*.md"):
        number, _, slug = path.stem.partition("-")
        if number.isdigit():
            orders[slug] = int(number)
    return orders


def _glossary_slugs() -> frozenset[str]:
    from lessons.selectors import glossary

    return frozenset(glossary())


def _experiments() -> dict[str, frozenset[str]]:
    from lab.model.experiments import EXPERIMENTS

    return {slug: frozenset(p.slug for p in e.presets) for slug, e in EXPERIMENTS.items()}


@functools.cache
def _metrics_of(experiment: str) -> frozenset[str]:
    from lab.model.experiments import EXPERIMENTS

    chosen = EXPERIMENTS.get(experiment)
    return RUN_METRICS | (experiment_metrics(chosen.topology) if chosen else frozenset())


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class _BankParser:
    def __init__(
        self,
        *,
        lessons: dict[str, int],
        concepts: frozenset[str],
        experiments: dict[str, frozenset[str]],
        problems: _Problems,
    ) -> None:
        self.lessons = lessons
        self.concepts = concepts
        self.experiments = experiments
        self.problems = problems
        self.seen_ids: dict[str, str] = {}

    def bank(self, path: Path, data: Any) -> Bank | None:
        where = path.name
        add = functools.partial(self.problems.add, where)
        if not isinstance(data, dict):
            add("(file)", "must be a mapping with quiz, title, pass_mark and questions")
            return None
        for key in sorted(set(data) - {"quiz", "title", "pass_mark", "questions"}):
            add(key, "unknown field")
        quiz = _text(data.get("quiz"))
        if quiz != path.stem:
            add("quiz", f"must equal the file name's slug {path.stem!r}, got {data.get('quiz')!r}")
        if quiz not in self.lessons:
            add("quiz", f"no lesson file lessons/content/NN-{quiz}.md")
        title = _text(data.get("title"))
        if not title:
            add("title", "is required")
        pass_mark = _number(data.get("pass_mark"))
        if pass_mark is None or not 0 < pass_mark <= 1:
            add("pass_mark", f"must be a fraction in (0, 1], got {data.get('pass_mark')!r}")
        raw_questions = data.get("questions")
        if not isinstance(raw_questions, list) or not raw_questions:
            add("questions", "must be a non-empty list")
            raw_questions = []
        questions = []
        for index, raw in enumerate(raw_questions):
            question = self.question(where, index, quiz, raw)
            if question is not None:
                questions.append(question)
        return Bank(
            quiz=quiz,
            title=title,
            pass_mark=pass_mark or 0.0,
            order=self.lessons.get(quiz, 0),
            questions=tuple(questions),
        )

    def question(self, file: str, index: int, quiz: str, raw: Any) -> Question | None:
        if not isinstance(raw, dict):
            self.problems.add(file, f"questions[{index}]", "must be a mapping")
            return None
        qid = raw.get("id")
        where = f"{file}: question {qid}" if isinstance(qid, str) else f"{file}: questions[{index}]"
        add = functools.partial(self.problems.add, where)
        if not isinstance(qid, str) or not _SLUG.match(qid):
            add("id", f"must be a lowercase-kebab string, got {qid!r}")
            return None
        if qid in self.seen_ids:
            add("id", f"is already used in {self.seen_ids[qid]}")
        self.seen_ids[qid] = file
        kind = raw.get("type")
        if kind not in TYPES:
            add("type", f"must be one of {', '.join(TYPES)}, got {kind!r}")
            return None
        allowed = _COMMON_FIELDS | _TYPE_FIELDS[kind] | ({"variants"} if kind in _VARIANT_TYPES else set())
        for key in sorted(set(raw) - allowed):
            add(key, f"is not a field of a {kind} question")
        for key in sorted(allowed - _OPTIONAL_FIELDS - set(raw)):
            add(key, "is required")
        concepts = raw.get("concepts")
        if not isinstance(concepts, list) or not concepts or not all(isinstance(c, str) for c in concepts):
            add("concepts", "must be a non-empty list of glossary slugs")
            concepts = []
        for concept in concepts:
            if concept not in self.concepts:
                add("concepts", f"{concept!r} is not a glossary slug (lessons/content/glossary/*.yaml)")
        prompt = _text(raw.get("prompt"))
        if not prompt:
            add("prompt", "is required")
        fields = self.content(add, kind, raw)
        question = Question(id=qid, type=kind, quiz=quiz, concepts=tuple(concepts), prompt=prompt, **fields)
        if "variants" in raw and kind in _VARIANT_TYPES:
            variants = self.variants(add, question, raw["variants"])
            question = dataclasses.replace(question, variants=variants)
        return question

    def content(self, add: Callable[[str, str], None], kind: str, raw: dict[str, Any]) -> dict[str, Any]:
        """The fields that make up what a question of this type asks and what its key is."""
        if kind in CHOICE_TYPES:
            return {"options": self.options(add, "options", raw.get("options"), kind)}
        if kind == "ordering":
            return {"items": self.items(add, raw.get("items")), "explanation": self.explanation(add, raw)}
        if kind == "numeric":
            return self.numeric(add, raw)
        return self.lab(add, raw)

    def variants(self, add: Callable[[str, str], None], question: Question, raw: Any) -> tuple[Question, ...]:
        """Alternative versions of a question, each checked like the question itself; type and concepts are
        shared, and each must ask something other than the question and its other variants."""
        if not isinstance(raw, list) or not raw:
            add("variants", "must be a non-empty list of versions, each with an id, a prompt and the type's fields")
            return ()
        allowed = {"id", "prompt"} | _TYPE_FIELDS[question.type]
        prompts = {question.prompt}
        found: list[Question] = []
        for n, item in enumerate(raw):
            vid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(item, dict) or not isinstance(vid, str) or not _SLUG.match(vid):
                add(f"variants[{n}]", f"must be a mapping with a lowercase-kebab id, got id {vid!r}")
                continue
            where = f"variants[{vid}]"

            def add_here(field: str, message: str, where: str = where) -> None:
                add(f"{where}.{field}", message)

            if vid in {v.variant for v in found}:
                add_here("id", "is already used by another variant of this question")
            for key in sorted(set(item) - allowed):
                add_here(key, f"is not a field of a {question.type} variant (id, type and concepts are the question's)")
            for key in sorted(allowed - _OPTIONAL_FIELDS - set(item)):
                add_here(key, "is required")
            prompt = _text(item.get("prompt"))
            if not prompt:
                add_here("prompt", "is required")
            elif prompt in prompts:
                add_here("prompt", "repeats the prompt of the question or of another variant: a variant asks anew")
            prompts.add(prompt)
            fields = self.content(add_here, question.type, item)
            found.append(dataclasses.replace(question, prompt=prompt, variant=vid, **fields))
        return tuple(found)

    def explanation(self, add: Callable[[str, str], None], raw: dict[str, Any]) -> str:
        text = _text(raw.get("explanation"))
        if not text and "explanation" in raw:
            add("explanation", "must be non-empty text")
        return text

    def options(self, add: Callable[[str, str], None], field: str, raw: Any, kind: str) -> tuple[Option, ...]:
        low, high = (2, 2) if kind == "true_false" else (2, 8 if kind == "multiple" else 6)
        if not isinstance(raw, list) or not low <= len(raw) <= high:
            add(field, f"must be a list of {low}–{high} options")
            return ()
        options = []
        for n, item in enumerate(raw):
            if not isinstance(item, dict):
                add(f"{field}[{n}]", "must be a mapping with id, text, correct, explanation")
                continue
            for key in sorted(set(item) - {"id", "text", "correct", "explanation"}):
                add(f"{field}[{n}].{key}", "unknown field")
            oid = item.get("id")
            if not isinstance(oid, str) or not oid:
                add(f"{field}[{n}].id", f'must be a string (quote ids like "true"), got {oid!r}')
                continue
            if not _text(item.get("text")):
                add(f"{field}[{oid}].text", "is required")
            if not isinstance(item.get("correct"), bool):
                add(f"{field}[{oid}].correct", "must be true or false")
            if not _text(item.get("explanation")):
                add(f"{field}[{oid}].explanation", "is required: say why this option is right or wrong")
            options.append(
                Option(
                    id=oid,
                    text=_text(item.get("text")),
                    correct=item.get("correct") is True,
                    explanation=_text(item.get("explanation")),
                )
            )
        ids = [o.id for o in options]
        if len(set(ids)) != len(ids):
            add(field, f"option ids must be unique, got {ids}")
        correct = sum(o.correct for o in options)
        if kind == "true_false" and set(ids) != {"true", "false"}:
            add(field, f'a true_false question has exactly the options "true" and "false", got {ids}')
        elif kind == "true_false":
            for option in options:  # the screen shows the text: it must say what the id means, nothing else
                if option.text != option.id.capitalize():
                    add(f"{field}[{option.id}].text", f"must be {option.id.capitalize()!r}, got {option.text!r}")
        if kind == "multiple" and correct < 1:
            add(field, "at least one option must be correct")
        elif kind != "multiple" and correct != 1:
            add(field, f"exactly one option must be correct, {correct} are")
        return tuple(options)

    def items(self, add: Callable[[str, str], None], raw: Any) -> tuple[Item, ...]:
        if not isinstance(raw, list) or not 2 <= len(raw) <= 8:
            add("items", "must be a list of 2–8 items in the correct order")
            return ()
        items = []
        for n, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                add(f"items[{n}]", "must be a mapping with a string id, text and explanation")
                continue
            for key in sorted(set(item) - {"id", "text", "explanation"}):
                add(f"items[{item['id']}].{key}", "unknown field")
            if not _text(item.get("text")):
                add(f"items[{item['id']}].text", "is required")
            if not _text(item.get("explanation")):
                add(f"items[{item['id']}].explanation", "is required: say why the item sits at this position")
            items.append(Item(id=item["id"], text=_text(item.get("text")), explanation=_text(item.get("explanation"))))
        ids = [i.id for i in items]
        if len(set(ids)) != len(ids):
            add("items", f"item ids must be unique, got {ids}")
        return tuple(items)

    def numeric(self, add: Callable[[str, str], None], raw: dict[str, Any]) -> dict[str, Any]:
        answer = _number(raw.get("answer"))
        if answer is None:
            add("answer", f"must be a number, got {raw.get('answer')!r}")
        tolerance = _number(raw.get("tolerance"))
        if tolerance is None or tolerance < 0:
            add("tolerance", f"must be a number ≥ 0 in the answer's unit, got {raw.get('tolerance')!r}")
        unit = _text(raw.get("unit"))
        if not unit:
            add("unit", "is required (numeric prompts state their unit)")
        wrong = []
        for n, item in enumerate(raw.get("wrong_answers") or []):
            value = _number(item.get("value")) if isinstance(item, dict) else None
            if value is None or not _text(item.get("explanation")):
                add(f"wrong_answers[{n}]", "needs a numeric value and an explanation")
                continue
            if answer is not None and tolerance is not None and abs(value - answer) <= tolerance:
                add(f"wrong_answers[{n}].value", f"{value:g} is within the tolerance of the answer {answer:g}")
            wrong.append(WrongAnswer(value=value, explanation=_text(item["explanation"])))
        return {
            "answer": answer,
            "tolerance": tolerance,
            "unit": unit,
            "explanation": self.explanation(add, raw),
            "wrong_answers": tuple(wrong),
        }

    def lab(self, add: Callable[[str, str], None], raw: dict[str, Any]) -> dict[str, Any]:
        experiment = _text(raw.get("experiment"))
        preset = _text(raw.get("preset"))
        if experiment not in self.experiments:
            add("experiment", f"must be a built experiment ({', '.join(sorted(self.experiments))}), got {experiment!r}")
        elif preset not in self.experiments[experiment]:
            presets = ", ".join(sorted(self.experiments[experiment]))
            add("preset", f"{preset!r} is not a preset of {experiment} ({presets})")
        metric = _text(raw.get("metric"))
        if metric not in _metrics_of(experiment):
            add("metric", f"{metric!r} is not a run summary metric of {experiment} (see docs/content-format.md)")
        tolerance = _number(raw.get("tolerance"))
        if "tolerance" in raw and (tolerance is None or tolerance < 0):
            add("tolerance", f"must be a number ≥ 0 in the metric's unit, got {raw['tolerance']!r}")
        unit = _text(raw.get("unit"))
        if not unit:
            add("unit", "is required")
        return {
            "experiment": experiment,
            "preset": preset,
            "metric": metric,
            "unit": unit,
            "tolerance": tolerance,
            "options": self.options(add, "prediction", raw.get("prediction"), "single"),
            "explanation": self.explanation(add, raw),
        }


def parse_banks(
    files: Iterable[Path],
    *,
    lessons: dict[str, int],
    concepts: frozenset[str],
    experiments: dict[str, frozenset[str]],
) -> Catalogue:
    """Parse and validate bank files; raise ContentError listing every problem found."""
    problems = _Problems()
    parser = _BankParser(lessons=lessons, concepts=concepts, experiments=experiments, problems=problems)
    banks: list[Bank] = []
    for path in files:
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except yaml.YAMLError as exc:
            problems.add(path.name, "(yaml)", str(exc).replace("\n", " "))
            continue
        bank = parser.bank(path, data)
        if bank is not None:
            banks.append(bank)
    if problems.lines:
        raise ContentError(f"{len(problems.lines)} problem(s) in question banks:\n" + "\n".join(problems.lines))
    banks.sort(key=lambda b: (b.order, b.quiz))
    return Catalogue(
        banks={b.quiz: b for b in banks},
        questions={q.id: q for b in banks for q in b.questions},
    )


@functools.cache
def catalogue() -> Catalogue:
    """Every bank in quizzes/banks/, validated against the lessons, the glossary and the lab's experiments."""
    return parse_banks(
        sorted(BANKS_DIR.glob("*.yaml")),
        lessons=lesson_orders(),
        concepts=_glossary_slugs(),
        experiments=_experiments(),
    )
