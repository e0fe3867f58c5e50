"""The bank loader accepts the shipped banks and names file, question id and field for every problem."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from comms_lab.content import LOADERS, ContentError
from lab.model.topology import parse_topology
from quizzes.banks import Catalogue, catalogue, experiment_metrics, lesson_orders, parse_banks
from tests.unit.lab.test_topology import stream, with_links

LESSONS = {"retries": 1, "queues": 2}
CONCEPTS = frozenset({"retry", "jitter", "message-queue"})
EXPERIMENTS = {"checkout": frozenset({"email-down"}), "cascade": frozenset({"circuit-breaker"})}

GOOD_SINGLE = """
  - id: r-one
    type: single
    concepts: [retry]
    prompt: Which?
    options:
      - {id: a, text: This, correct: true, explanation: Because.}
      - {id: b, text: That, correct: false, explanation: Because not.}
"""


def write(tmp_path: Path, name: str, questions: str, *, quiz: str | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    header = f"quiz: {quiz or name}\ntitle: Retries\npass_mark: 0.7\nquestions:\n"
    path.write_text(header + textwrap.dedent(questions).strip("\n") + "\n")
    return path


def load(*paths: Path) -> Catalogue:
    return parse_banks(paths, lessons=LESSONS, concepts=CONCEPTS, experiments=EXPERIMENTS)


def problems(*paths: Path) -> str:
    with pytest.raises(ContentError) as info:
        load(*paths)
    return str(info.value)


def test_the_shipped_banks_load_with_ten_or_more_questions_per_lesson() -> None:
    banks = catalogue()
    assert set(banks.banks) == set(lesson_orders())  # one bank per lesson, however many lessons ship
    assert all(len(bank.questions) >= 10 for bank in banks.banks.values())
    assert {q.type for q in banks.questions.values()} >= {"single", "multiple", "true_false", "ordering", "numeric"}
    assert {q.experiment for q in banks.questions.values() if q.type == "lab"} >= {
        "checkout",
        "cascade",
        "sagas",
        "pubsub",
        "streams",
    }


def test_load_content_runs_the_bank_loader_and_reports_what_it_loaded() -> None:
    banks = catalogue()
    assert LOADERS["quizzes"]().startswith(f"{len(banks.banks)} banks, {len(banks.questions)} questions (")


def test_a_valid_bank_parses_into_questions(tmp_path: Path) -> None:
    banks = load(write(tmp_path, "retries", GOOD_SINGLE))
    question, bank = banks.question("r-one"), banks.bank("retries")
    assert question is not None and bank is not None
    assert question.correct_ids == {"a"}
    assert question.quiz == "retries"
    assert bank.order == 1


def test_it_names_file_question_and_field_when_two_options_are_marked_correct(tmp_path: Path) -> None:
    path = write(tmp_path, "retries", GOOD_SINGLE.replace("correct: false", "correct: true"))
    assert "retries.yaml: question r-one: options: exactly one option must be correct, 2 are" in problems(path)


def test_it_requires_an_explanation_on_every_option(tmp_path: Path) -> None:
    path = write(tmp_path, "retries", GOOD_SINGLE.replace(", explanation: Because not.", ""))
    assert "question r-one: options[b].explanation: is required" in problems(path)


def test_it_refuses_an_id_used_in_another_bank(tmp_path: Path) -> None:
    first = write(tmp_path, "retries", GOOD_SINGLE)
    second = write(tmp_path, "queues", GOOD_SINGLE)
    assert "queues.yaml: question r-one: id: is already used in retries.yaml" in problems(first, second)


def test_it_refuses_a_quiz_without_a_lesson_and_an_unknown_concept(tmp_path: Path) -> None:
    path = write(tmp_path, "ghost", GOOD_SINGLE.replace("[retry]", "[retry, telepathy]"))
    text = problems(path)
    assert "ghost.yaml: quiz: no lesson file lessons/content/NN-ghost.md" in text
    assert "question r-one: concepts: 'telepathy' is not a glossary slug" in text


def test_it_refuses_true_false_options_other_than_true_and_false(tmp_path: Path) -> None:
    path = write(tmp_path, "retries", GOOD_SINGLE.replace("type: single", "type: true_false"))
    assert 'question r-one: options: a true_false question has exactly the options "true" and "false"' in problems(path)


def test_it_refuses_a_true_false_option_whose_text_is_not_true_or_false(tmp_path: Path) -> None:
    question = GOOD_SINGLE.replace("type: single", "type: true_false").replace(
        "id: a, text: This", 'id: "true", text: "Yes"'
    )
    path = write(tmp_path, "retries", question.replace("id: b, text: That", 'id: "false", text: "False"'))
    assert "question r-one: options[true].text: must be 'True', got 'Yes'" in problems(path)
    assert "options[false]" not in problems(path)


def test_it_checks_numeric_units_tolerances_and_typical_wrong_answers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "retries",
        """
        - id: r-delay
          type: numeric
          concepts: [retry]
          prompt: How long?
          answer: 700
          tolerance: -1
          explanation: 100 + 200 + 400.
          wrong_answers:
            - {value: 700, explanation: Same as the answer.}
        """,
    )
    text = problems(path)
    assert "question r-delay: unit: is required" in text
    assert "question r-delay: tolerance: must be a number ≥ 0" in text


def test_it_refuses_a_typical_wrong_answer_that_the_tolerance_accepts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "retries",
        """
        - id: r-delay
          type: numeric
          concepts: [retry]
          prompt: How long?
          answer: 700
          tolerance: 5
          unit: ms
          explanation: 100 + 200 + 400.
          wrong_answers:
            - {value: 703, explanation: Close.}
        """,
    )
    assert "question r-delay: wrong_answers[0].value: 703 is within the tolerance of the answer 700" in problems(path)


def test_it_checks_lab_questions_against_the_experiments_and_metrics(tmp_path: Path) -> None:
    lab = """
        - id: r-lab
          type: lab
          concepts: [retry]
          experiment: cascade
          preset: {preset}
          metric: {metric}
          unit: "%"
          prompt: Run it.
          explanation: Your run shows it.
          prediction:
            - {{id: a, text: Up, correct: true, explanation: Yes.}}
            - {{id: b, text: Down, correct: false, explanation: No.}}
    """
    bad_preset = write(tmp_path, "retries", lab.format(preset="email-down", metric="success_rate_pct"))
    assert "question r-lab: preset: 'email-down' is not a preset of cascade" in problems(bad_preset)
    bad_metric = write(tmp_path, "retries", lab.format(preset="circuit-breaker", metric="happiness"))
    assert "question r-lab: metric: 'happiness' is not a run summary metric of cascade" in problems(bad_metric)
    no_modes = write(tmp_path, "retries", lab.format(preset="circuit-breaker", metric="by_mode.sync.failed"))
    assert "question r-lab: metric: 'by_mode.sync.failed' is not a run summary metric of cascade" in problems(no_modes)
    per_path = write(tmp_path, "retries", lab.format(preset="circuit-breaker", metric="by_path.checkout.failed"))
    assert load(per_path).question("r-lab") is not None
    good = write(tmp_path, "retries", lab.format(preset="circuit-breaker", metric="latency_ms.p99"))
    question = load(good).question("r-lab")
    assert question is not None and question.metric == "latency_ms.p99"
    no_stream = write(tmp_path, "retries", lab.format(preset="circuit-breaker", metric="streams.groups.g.max_lag"))
    assert "metric: 'streams.groups.g.max_lag' is not a run summary metric of cascade" in problems(no_stream)


def test_an_experiment_with_a_stream_offers_its_groups_figures_and_their_split_by_request_class() -> None:
    from lab.model.experiments import EXPERIMENTS as BUILT

    metrics = experiment_metrics(BUILT["streams"].topology)
    assert {
        "streams.appended",
        "streams.groups.fulfilment.max_lag",
        "streams.groups.analytics.replayed",
        "streams.groups.fulfilment.by_partitioning.round_robin.out_of_order",
    } <= metrics
    assert "streams.groups.billing.max_lag" not in metrics  # billing reads a queue, not the stream


def test_an_experiment_with_a_stream_offers_its_counts_per_group_and_read_model_figures_for_projecting_groups() -> None:
    document = with_links(stream(groups=[{"id": "view", "to": "mail"}, {"id": "audit", "to": "stock"}]))
    document["services"]["mail"]["steps"] = [{"project": "log"}]
    metrics = experiment_metrics(parse_topology(document))
    assert {"streams.stale_reads", "streams.groups.audit.out_of_order", "streams.groups.view.processed"} <= metrics
    assert {"streams.groups.view.rows_differing", "streams.groups.view.stale_reads"} <= metrics
    assert "streams.groups.audit.rows_differing" not in metrics  # audit keeps no read model
    assert not any(m.startswith("streams.") for m in experiment_metrics(parse_topology(with_links())))


def test_it_flags_misspelt_fields_and_ordering_items_without_explanations(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "retries",
        """
        - id: r-order
          type: ordering
          concepts: [retry]
          prompt: Order them.
          explaination: typo
          explanation: First, then.
          items:
            - {id: first, text: First, explanation: It starts.}
            - {id: then, text: Then}
        """,
    )
    text = problems(path)
    assert "question r-order: explaination: is not a field of a ordering question" in text
    assert "question r-order: items[then].explanation: is required" in text


VARIED_NUMERIC = """
  - id: r-wait
    type: numeric
    concepts: [retry]
    prompt: Three retries wait 100, 200 and 400 ms. How long in all?
    answer: 700
    tolerance: 0
    unit: ms
    explanation: 100 + 200 + 400.
    variants:
      - id: doubled
        prompt: Three retries wait 200, 400 and 800 ms. How long in all?
        answer: 1400
        tolerance: 0
        unit: ms
        explanation: 200 + 400 + 800.
        wrong_answers:
          - {value: 800, explanation: That is the last wait only.}
"""


def test_a_variant_is_the_same_question_asked_anew_with_its_own_key(tmp_path: Path) -> None:
    question = load(write(tmp_path, "retries", VARIED_NUMERIC)).questions["r-wait"]
    assert question.variant_ids == ("", "doubled")
    doubled = question.in_variant("doubled")
    assert (doubled.id, doubled.type, doubled.concepts, doubled.variant) == ("r-wait", "numeric", ("retry",), "doubled")
    assert (doubled.answer, doubled.explanation, doubled.wrong_answers[0].value) == (1400, "200 + 400 + 800.", 800)
    assert question.in_variant("") is question
    assert question.in_variant("since-removed") is question  # an old attempt's variant the bank dropped


def test_a_variant_is_validated_like_its_question_and_named_in_every_problem(tmp_path: Path) -> None:
    broken = GOOD_SINGLE + (
        "    variants:\n"
        "      - id: other\n"
        "        prompt: Which?\n"
        "        concepts: [jitter]\n"
        "        options:\n"
        "          - {id: a, text: This, correct: true, explanation: Because.}\n"
        "          - {id: b, text: That, correct: true}\n"
        "      - {id: other, prompt: Which one now?}\n"
        "      - {prompt: No id}\n"
    )
    text = problems(write(tmp_path, "retries", broken))
    assert "question r-one: variants[other].prompt: repeats the prompt of the question" in text
    assert "question r-one: variants[other].concepts: is not a field of a single variant" in text
    assert "question r-one: variants[other].options[b].explanation: is required" in text
    assert "question r-one: variants[other].options: exactly one option must be correct, 2 are" in text
    assert "question r-one: variants[other].id: is already used by another variant of this question" in text
    assert "question r-one: variants[other].options: is required" in text
    assert "question r-one: variants[2]: must be a mapping with a lowercase-kebab id, got id None" in text


def test_a_numeric_variant_cannot_list_a_typical_wrong_answer_its_tolerance_accepts(tmp_path: Path) -> None:
    path = write(tmp_path, "retries", VARIED_NUMERIC.replace("value: 800", "value: 1400"))
    assert "question r-wait: variants[doubled].wrong_answers[0].value: 1400 is within the tolerance" in problems(path)


def test_a_lab_question_has_no_variants_because_its_answer_is_one_run(tmp_path: Path) -> None:
    lab = """
      - id: r-lab
        type: lab
        concepts: [retry]
        experiment: cascade
        preset: circuit-breaker
        prompt: Run it.
        prediction:
          - {id: a, text: None, correct: true, explanation: Because.}
          - {id: b, text: Some, correct: false, explanation: Because not.}
        metric: breaker_opened
        unit: times
        explanation: Read it.
        variants:
          - {id: again, prompt: Run it again.}
    """
    assert "question r-lab: variants: is not a field of a lab question" in problems(write(tmp_path, "retries", lab))
