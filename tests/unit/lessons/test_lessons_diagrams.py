"""Sequence and flow diagrams render to accessible SVG that follows the theme through CSS classes."""

from __future__ import annotations

import itertools
import re

import pytest

from lessons import diagrams

SEQUENCE = """title: Checkout with a lost email
participant Client
participant Order Service
participant Broker
Client -> Order Service: POST /checkout
Order Service ->> Broker: order.placed
Broker -x Email Service: delivery fails
note over Broker: message kept
Order Service --> Client: 201 Created
"""
FLOW = """title: Hybrid checkout
Client -> Order Service: POST /checkout
Order Service ->> Broker: order.placed
Broker ->> Email Service
"""


def x_of(svg: str, name: str) -> float:
    """The x of the first text line that prints `name`."""
    match = re.search(rf'<tspan x="([\d.]+)" dy="0">{re.escape(name)}</tspan>', svg)
    assert match, name
    return float(match.group(1))


def test_it_draws_a_sequence_diagram_as_an_image_named_by_its_title() -> None:
    html = diagrams.render("sequence", SEQUENCE)
    assert '<svg class="diagram-svg" role="img" aria-label="Checkout with a lost email"' in html
    assert "<title>Checkout with a lost email</title>" in html
    assert "<figcaption>Checkout with a lost email</figcaption>" in html


def test_it_spells_out_every_step_for_screen_readers_and_readers_without_svg() -> None:
    html = diagrams.render("sequence", SEQUENCE)
    assert "<desc>1. Client to Order Service, request: POST /checkout. 2. Order Service to Broker," in html
    assert "<li>Broker to Email Service, lost message: delivery fails</li>" in html
    assert "<li>Note over Broker: message kept</li>" in html


def test_it_draws_each_kind_of_arrow_differently() -> None:
    html = diagrams.render("sequence", SEQUENCE)
    assert 'class="head head-call"' in html  # filled head on a request
    assert re.search(r'class="edge edge-reply"[^>]*stroke-dasharray="6 4"', html)  # dashed reply
    assert 'class="head head-open"' in html  # open head on an asynchronous message
    assert 'class="head head-lost"' in html  # a cross on a lost message


def test_it_places_participants_in_declared_then_first_seen_order() -> None:
    svg = diagrams.render("sequence", SEQUENCE)
    xs = [x_of(svg, name) for name in ("Client", "Order Service", "Broker", "Email Service")]
    assert xs == sorted(xs)


def test_it_widens_the_gap_a_long_label_needs() -> None:
    short = diagrams.render("sequence", "title: t\nA -> B: go")
    long = diagrams.render("sequence", "title: t\nA -> B: " + "a rather long label " * 2)
    assert x_of(long, "B") > x_of(short, "B")


def test_it_colours_through_css_classes_so_dark_mode_works() -> None:
    html = diagrams.render("sequence", SEQUENCE) + diagrams.render("flow", FLOW)
    assert not re.search(r'(fill|stroke)="#', html)
    assert "style=" not in html


def test_it_lays_out_a_flow_left_to_right() -> None:
    svg = diagrams.render("flow", FLOW)
    assert x_of(svg, "Client") < x_of(svg, "Order Service") < x_of(svg, "Broker") < x_of(svg, "Email Service")


def test_it_draws_brokers_queues_and_stores_as_storage_shapes() -> None:
    svg = diagrams.render("flow", FLOW)
    assert svg.count('class="node node-storage"') == 1
    assert svg.count('<rect class="node"') == 3


def test_it_escapes_labels() -> None:
    html = diagrams.render("sequence", "title: <b>t</b>\nA -> B: <script>alert(1)</script>")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("kind", "source", "message"),
    [
        ("sequence", "A -> B: hi", "title: is required"),
        ("sequence", "title: t\nA => B", "line 2: cannot read 'A => B'"),
        ("sequence", "title: t\nnote over A: alone", "needs at least one 'A -> B' line"),
        ("sequence", "title: t\nA -> B\nnote over A, B, C: three", "line 3: a note is over one participant or two"),
        ("flow", "title: t\nA -> B\nnote over A: no", "line 3: flow diagrams have no notes"),
    ],
)
def test_it_names_the_line_it_cannot_read(kind: str, source: str, message: str) -> None:
    with pytest.raises(diagrams.DiagramError, match=re.escape(message)):
        diagrams.render(kind, source)


def width_of(html: str) -> float:
    return float(re.search(r'<svg class="diagram-svg"[^>]*width="([\d.]+)"', html)[1])  # type: ignore[index]


def test_it_wraps_labels_tighter_until_a_wide_sequence_fits_the_column() -> None:
    names = [f"Service number {i}" for i in range(7)]
    steps = [f"{a} -> {b}: a fairly long label that says what is sent" for a, b in itertools.pairwise(names)]
    source = "\n".join(["title: Seven services", *steps])
    html = diagrams.render("sequence", source)
    assert width_of(html) <= diagrams.MAX_WIDTH
    assert '<div class="diagram-scroll"><svg' in html


def test_it_wraps_a_long_flow_until_it_fits_the_column() -> None:
    names = [f"Step {i} of the pipeline" for i in range(4)]
    source = "\n".join(
        ["title: A pipeline", *(f"{a} ->> {b}: hands the work on" for a, b in itertools.pairwise(names))]
    )
    assert width_of(diagrams.render("flow", source)) <= diagrams.MAX_WIDTH
