"""The lab page's modules (static/lab/*.js) read only event types and fields the event contract declares
(lab/model/events.py), so renaming a field in Python without updating the page fails here, not in a learner's log.

How the JS is read: a plain-text parse, not a JavaScript parser. It relies on the modules' convention of naming an
event `e` (checked below), and finds:
- the types the page handles: string literals compared with `e.type` (`===`, `!==`), `case` labels of a
  `switch (e.type)`, members of a `new Set([...])` asked `.has(e.type)`, members of an array literal asked
  `.includes(e.type)`, and prefixes asked `e.type.startsWith(...)` (some declared type must have the prefix);
- the fields read per type: `e.<name>` inside a `case` clause of a `switch (e.type)` (cases that share a body share
  its reads), and inside an `if` whose condition compares `e.type === "<type>"` (the condition and its block, or its
  single statement).
A field read under several types at once (`case "a": case "b":`, `e.type === "a" || e.type === "b"`) must be
declared by at least one of them. Not seen: reads outside such a test (the log's `default` line, helpers handed
the event such as `showFidelity(e)`, loops over a prefix of types like the sagas panel's `saga.*` fold), computed
reads (`e[groupBy]`), and reads through a destructured or renamed event. Those stay the reviewer's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from lab.model.events import EVENTS

STATIC = Path(__file__).resolve().parents[3] / "static" / "lab"
EVERY_EVENT_HAS = {"type", "seq", "t", "emitted_at"}  # added by the log (lab/events.py), not by each type's emitter
READ = re.compile(r"(?<![\w.$])e\??\.([A-Za-z_$][\w$]*)")
COMPARED = re.compile(r'(?<![\w.$])e\.type\s*[!=]==\s*"([^"]+)"')
SWITCH = re.compile(r"switch\s*\(\s*e\.type\s*\)\s*\{")
CASES = re.compile(r'(?:case\s+"([^"]+)"\s*:\s*)+')
IF = re.compile(r"\bif\s*\(")
TESTED_TYPE = re.compile(r'(?<![\w.$])e\.type\s*===\s*"([^"]+)"')
DOTTED_LITERAL_COMPARED = re.compile(r'([\w$.]+)\.type\s*[!=]==\s*"[a-z_]+\.[a-z_.]+"')


def without_comments(src: str) -> str:
    """`// …` comments out (a `//` after a letter or colon, as in a URL, is kept), and `/* … */` ones."""
    return re.sub(r"(?m)(^|[\s;,(){}])//.*$", r"\1", re.sub(r"/\*.*?\*/", "", src, flags=re.S))


def closing(src: str, start: int, opening: str, close: str) -> int:
    """The index of the bracket closing the one at `start` (template `${…}` braces balance, so they count too)."""
    depth = 0
    for i in range(start, len(src)):
        if src[i] == opening:
            depth += 1
        elif src[i] == close:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced {opening} at {start}")


def handled_types(src: str) -> set[str]:
    """Every event type the module compares an event with."""
    types = set(COMPARED.findall(src))
    for switch in SWITCH.finditer(src):
        body = src[switch.end() - 1 : closing(src, switch.end() - 1, "{", "}")]
        types.update(re.findall(r'case\s+"([^"]+)"\s*:', body))
    for name in re.findall(r"([A-Za-z_$][\w$]*)\.has\(e\.type\)", src):
        members = re.search(rf"\b{re.escape(name)}\s*=\s*new Set\(\[([^\]]*)\]\)", src)
        assert members, f"{name}.has(e.type): no `{name} = new Set([...])` in the same module"
        types.update(re.findall(r'"([^"]+)"', members.group(1)))
    for members in re.findall(r"\[([^\[\]]*)\]\.includes\(e\.type\)", src):
        types.update(re.findall(r'"([^"]+)"', members))
    return types


def type_prefixes(src: str) -> set[str]:
    return set(re.findall(r'e\.type\.startsWith\("([^"]+)"\)', src))


def guarded_reads(src: str) -> Iterator[tuple[list[str], set[str]]]:
    """(the types a piece of code is known to handle, the event fields it reads), per switch clause and per if."""
    for switch in SWITCH.finditer(src):
        body = src[switch.end() - 1 : closing(src, switch.end() - 1, "{", "}")]
        clauses = list(CASES.finditer(body))
        for i, clause in enumerate(clauses):
            end = clauses[i + 1].start() if i + 1 < len(clauses) else len(body)
            default = body.find("default:", clause.end(), end)
            code = body[clause.end() : default if default >= 0 else end]
            yield re.findall(r'case\s+"([^"]+)"', clause.group(0)), set(READ.findall(code))
    for branch in IF.finditer(src):
        condition_end = closing(src, branch.end() - 1, "(", ")")
        condition = src[branch.end() : condition_end]
        types = TESTED_TYPE.findall(condition)
        if not types:
            continue
        start = condition_end + 1
        while src[start].isspace():
            start += 1
        body = src[start : closing(src, start, "{", "}")] if src[start] == "{" else src[start : src.index(";", start)]
        yield types, set(READ.findall(f"{condition} {body}"))


def undeclared_reads(src: str) -> list[str]:
    """`<types>: <field>` for each field read under a type test that none of those types declares."""
    found = []
    for types, reads in guarded_reads(src):
        declared = set().union(*(EVENTS[t].fields | EVENTS[t].optional for t in types if t in EVENTS))
        found += [f"{' | '.join(types)}: {field}" for field in sorted(reads - declared - EVERY_EVENT_HAS)]
    return found


def modules() -> dict[str, str]:
    return {path.name: without_comments(path.read_text()) for path in sorted(STATIC.glob("*.js"))}


def test_every_event_type_the_page_handles_is_declared() -> None:
    unknown = {name: sorted(handled_types(src) - set(EVENTS)) for name, src in modules().items()}
    assert {name: types for name, types in unknown.items() if types} == {}
    prefixes = {prefix for src in modules().values() for prefix in type_prefixes(src)}
    assert [p for p in prefixes if not any(kind.startswith(p) for kind in EVENTS)] == []


def test_every_field_the_page_reads_off_an_event_type_is_declared_for_it() -> None:
    undeclared = {name: undeclared_reads(src) for name, src in modules().items()}
    assert {name: reads for name, reads in undeclared.items() if reads} == {}


def test_the_modules_name_an_event_e_so_this_parse_sees_their_type_tests() -> None:
    others = {name: DOTTED_LITERAL_COMPARED.findall(src) for name, src in modules().items()}
    assert {name: found for name, found in others.items() if any(v != "e" for v in found)} == {}


def test_the_parse_finds_the_page_reading_what_the_log_and_panels_show() -> None:
    """The parse itself works on the real modules: a regex that silently matched nothing would pass the rest."""
    src = modules()
    assert {"request.finished", "dlq.added", "run.finished"} <= handled_types(src["log.js"])
    assert "saga." in type_prefixes(src["sagas.js"])
    reads = {
        (kind, field)
        for text in src.values()
        for types, fields in guarded_reads(text)
        for kind in types
        for field in fields
    }
    assert {
        ("request.finished", "latency_ms"),
        ("message.processed", "consumer"),
        ("saga.step", "compensable"),
    } <= reads
    assert ("projection.updated", "generation") in reads  # an if's block
    assert ("message.missed", "subscription") in reads  # an if's single statement


def test_a_field_renamed_in_python_but_not_on_the_page_is_caught() -> None:
    page = """
      switch (e.type) {
        case "request.finished": return `${e.correlation_id} after ${e.latency} ms`; // was latency_ms
        case "queue.depth": case "pool.usage": return e.depths;
      }
      if (e.type === "dlq.added" && e.queue) show(e.last_failure);
      else if ((e.type === "request.finished" && e.outcome === "ok") || e.type === "db.committed") count(e.record);
    """
    assert undeclared_reads(page) == ["request.finished: latency", "dlq.added: last_failure"]
    assert handled_types('if (e.type === "message.teleported") go();') == {"message.teleported"}
