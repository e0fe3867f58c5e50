"""The lesson loader rejects bad content with messages that name the file and the field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from comms_lab.content import ContentError
from lessons.catalog import Catalog, load_catalog

VALID_META: dict[str, Any] = {
    "slug": "sample",
    "order": 1,
    "title": "A sample lesson",
    "summary": "One sentence for the index.",
    "objectives": ["Explain one thing.", "Compute another.", "Choose a third."],
    "concepts": ["alpha"],
    "lab": [
        {"experiment": "checkout", "preset": "email-down", "what": "Take email down."},
        {"experiment": "saga", "planned": True, "what": "Watch a compensation run."},
    ],
    "quiz": "sample",
}
VALID_BODY = """A hook with [[alpha]] and [[the second term|beta]].

## Mechanism

```sequence
title: One call
Client -> Order Service: POST /checkout
Order Service --> Client: 201 Created
```

```example
sample/hello.py
```

## Common misconceptions

None worth repeating.

## Summary

It works.
"""
GLOSSARY: list[dict[str, Any]] = [
    {"slug": "alpha", "term": "Alpha", "definition": "The first term.", "see_also": ["beta"]},
    {"slug": "beta", "term": "Beta", "definition": "The second term."},
]


class Site:
    """A throwaway content tree: lessons, glossary, examples and question banks in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.content = root / "content"
        self.examples = root / "examples"
        self.banks = root / "banks"
        (self.content / "glossary").mkdir(parents=True)
        (self.examples / "sample").mkdir(parents=True)
        self.banks.mkdir()
        (self.examples / "sample" / "hello.py").write_text('print("hello")\n')
        (self.examples / "sample" / "hello.out").write_text("hello\n")
        (self.banks / "sample.yaml").write_text("quiz: sample\n")
        self.write_glossary("terms.yaml", GLOSSARY)

    def write_glossary(self, name: str, terms: list[dict[str, Any]]) -> Path:
        path = self.content / "glossary" / name
        path.write_text(yaml.safe_dump(terms))
        return path

    def write_lesson(self, name: str = "01-sample.md", body: str = VALID_BODY, **changes: Any) -> Path:
        meta = copy.deepcopy(VALID_META)
        for key, value in changes.items():
            if value is None:
                meta.pop(key, None)
            else:
                meta[key] = value
        path = self.content / name
        path.write_text(f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n\n{body}")
        return path

    def load(self) -> Catalog:
        return load_catalog(content_dir=self.content, examples_dir=self.examples, banks_dir=self.banks)

    def errors(self) -> list[str]:
        with pytest.raises(ContentError) as caught:
            self.load()
        return str(caught.value).splitlines()


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def assert_error(site: Site, expected_start: str, contains: str) -> None:
    errors = site.errors()
    assert any(line.startswith(expected_start) and contains in line for line in errors), errors


def test_it_loads_a_valid_lesson(site: Site) -> None:
    site.write_lesson()
    catalog = site.load()
    [lesson] = catalog.lessons
    assert lesson.slug == "sample"
    assert [link.url for link in lesson.lab] == ["/lab/checkout/?preset=email-down", None]
    assert [entry.title for entry in lesson.toc] == [
        "Mechanism",
        "Common misconceptions",
        "Try it in the lab",
        "Check yourself",
        "Summary",
    ]
    assert set(catalog.glossary) == {"alpha", "beta"}


@pytest.mark.parametrize("field", ["slug", "order", "title", "summary", "objectives", "concepts", "lab", "quiz"])
def test_it_names_the_file_and_field_of_a_missing_required_field(site: Site, field: str) -> None:
    missing: dict[str, Any] = {field: None}
    path = site.write_lesson(**missing)
    assert_error(site, f"{path}: {field}:", "")


def test_it_names_a_field_of_the_wrong_type(site: Site) -> None:
    path = site.write_lesson(order="first")
    assert_error(site, f"{path}: order:", "positive integer, got 'first'")


@pytest.mark.parametrize("count", [2, 6])
def test_it_wants_three_to_five_objectives(site: Site, count: int) -> None:
    path = site.write_lesson(objectives=[f"Explain thing {i}." for i in range(count)])
    assert_error(site, f"{path}: objectives:", "3 to 5")


def test_it_rejects_an_unknown_field(site: Site) -> None:
    path = site.write_lesson(objective=["typo"])
    assert_error(site, f"{path}: objective:", "unknown field")


def test_it_wants_the_slug_to_match_the_file_name(site: Site) -> None:
    path = site.write_lesson(name="01-other.md")
    assert_error(site, f"{path}: slug:", "does not match the file name")


def test_it_rejects_duplicate_slugs(site: Site) -> None:
    first = site.write_lesson()
    second = site.write_lesson(name="02-sample.md", order=2)
    assert_error(site, f"{second}: slug:", f"already used by {first}")


def test_it_rejects_duplicate_orders(site: Site) -> None:
    (site.banks / "other.yaml").write_text("quiz: other\n")
    first = site.write_lesson(name="01-other.md", slug="other", quiz="other")
    second = site.write_lesson()
    assert_error(site, f"{second}: order:", f"1 is already used by {first}")


def test_it_wants_orders_without_gaps(site: Site) -> None:
    site.write_lesson(name="02-sample.md", order=2)
    assert_error(site, f"{site.content}: order:", "missing [1]")


def test_it_rejects_a_concept_missing_from_the_glossary(site: Site) -> None:
    path = site.write_lesson(concepts=["alpha", "gamma"])
    assert_error(site, f"{path}: concepts[1]:", "unknown glossary term 'gamma'")


def test_it_rejects_a_glossary_link_to_an_unknown_term(site: Site) -> None:
    path = site.write_lesson(body=VALID_BODY.replace("[[alpha]]", "[[Alpha]]"))
    assert_error(site, f"{path}: body:", "unknown glossary term in '[[Alpha]]'")


def test_it_rejects_a_link_to_a_lesson_that_does_not_exist(site: Site) -> None:
    path = site.write_lesson(body=VALID_BODY + "\nSee [the missing one](/lessons/missing/).\n")
    assert_error(site, f"{path}: body: link '/lessons/missing/':", "no lesson 'missing'")


def test_it_rejects_a_body_link_to_an_unknown_preset(site: Site) -> None:
    path = site.write_lesson(body=VALID_BODY + "\n[Run it](/lab/checkout/?preset=nope).\n")
    assert_error(site, f"{path}: body: link '/lab/checkout/?preset=nope':", "no preset 'nope' for checkout")


def test_it_names_the_lab_entry_with_an_unknown_preset(site: Site) -> None:
    path = site.write_lesson(lab=[{"experiment": "checkout", "preset": "x", "what": "Try."}])
    assert_error(site, f"{path}: lab[0].preset: unknown preset 'x' for checkout; one of", "email-down")


def test_it_names_the_lab_entry_with_an_unknown_experiment(site: Site) -> None:
    path = site.write_lesson(lab=[{"experiment": "teleport", "preset": "x", "what": "Try."}])
    assert_error(site, f"{path}: lab[0].experiment:", "unknown experiment 'teleport'")


def test_it_asks_for_a_preset_once_a_planned_experiment_is_built(site: Site) -> None:
    path = site.write_lesson(lab=[{"experiment": "cascade", "planned": True, "what": "Try."}])
    assert_error(site, f"{path}: lab[0].planned:", "cascade is built now")


def test_it_wants_a_question_bank_for_the_quiz(site: Site) -> None:
    (site.banks / "sample.yaml").unlink()
    path = site.write_lesson()
    assert_error(site, f"{path}: quiz:", "no question bank at")


@pytest.mark.parametrize("section", ["Common misconceptions", "Summary"])
def test_it_wants_the_required_sections(site: Site, section: str) -> None:
    path = site.write_lesson(body=VALID_BODY.replace(f"## {section}", "## Something else"))
    assert_error(site, f"{path}: body:", f"missing the '## {section}' section")


def test_it_wants_a_diagram(site: Site) -> None:
    body = VALID_BODY.replace("```sequence", "```text")
    path = site.write_lesson(body=body)
    assert_error(site, f"{path}: body:", "at least one ```sequence or ```flow diagram")


def test_it_names_the_line_of_a_diagram_without_a_title(site: Site) -> None:
    path = site.write_lesson(body=VALID_BODY.replace("title: One call\n", ""))
    assert_error(site, f"{path}: body: line", "sequence diagram: title: is required")


def test_it_wants_an_example_whose_output_exists(site: Site) -> None:
    (site.examples / "sample" / "hello.out").unlink()
    path = site.write_lesson()
    assert_error(site, f"{path}: body: line", "example 'sample/hello.py': missing hello.out")


def test_it_keeps_examples_inside_the_examples_directory(site: Site) -> None:
    path = site.write_lesson(body=VALID_BODY.replace("sample/hello.py", "../../etc/passwd.py"))
    assert_error(site, f"{path}: body: line", "under lessons/examples/")


def test_it_rejects_a_section_that_repeats_the_objectives(site: Site) -> None:
    body = VALID_BODY.replace("## Mechanism", "## What you will be able to do\n\n- Things.\n\n## Mechanism")
    path = site.write_lesson(body=body)
    assert_error(site, f"{path}: body:", "repeats the objectives")


def test_it_rejects_a_level_one_heading(site: Site) -> None:
    path = site.write_lesson(body="# A title again\n\n" + VALID_BODY)
    assert_error(site, f"{path}: body: heading 'A title again':", "use '##' sections")


def test_it_rejects_a_glossary_slug_defined_twice(site: Site) -> None:
    site.write_lesson()
    second = site.write_glossary("z-more.yaml", [{"slug": "alpha", "term": "Alpha again", "definition": "Twice."}])
    assert_error(site, f"{second}: [0].slug:", "'alpha' is already defined in")


def test_it_rejects_a_see_also_to_an_unknown_term(site: Site) -> None:
    site.write_lesson()
    path = site.write_glossary("terms.yaml", [{**GLOSSARY[0], "see_also": ["nowhere"]}, GLOSSARY[1]])
    assert_error(site, f"{path}: alpha.see_also:", "unknown term 'nowhere'")


def test_it_reports_every_problem_at_once(site: Site) -> None:
    site.write_lesson(title="", concepts=["gamma"], quiz="other")
    assert len(site.errors()) == 3
