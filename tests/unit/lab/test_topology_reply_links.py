"""Reply links' matching (`match`, `match_param`) and the pending-requests panel: what the validator accepts and
the path and words of what it refuses."""

from __future__ import annotations

from typing import Any

from lab.model.topology import parse_topology, view_spec
from tests.unit.lab.test_topology import doc, error, with_links

REPLY = {"id": "ask", "kind": "reply", "from": "shop", "to": "stock"}
MATCHING = {"name": "matching", "type": "choice", "default": "correlation_id", "live": True, "label": "Matching"}


def with_matching(**link: Any) -> dict[str, Any]:
    document = with_links({**REPLY, **link})
    document["parameters"] = [{**MATCHING, "choices": ["correlation_id", "arrival_order"]}]
    return document


def test_a_reply_link_matches_by_correlation_id_unless_it_says_otherwise() -> None:
    links = parse_topology(with_links(REPLY, {**REPLY, "id": "ask2", "match": "arrival_order"})).links
    assert (links["ask"].match, links["ask2"].match) == ("correlation_id", "arrival_order")


def test_an_unknown_way_of_matching_is_refused_with_the_ones_allowed() -> None:
    assert error(with_links({**REPLY, "match": "by_luck"})) == (
        "links.ask.match",
        "must be one of correlation_id, arrival_order, got 'by_luck'",
    )


def test_matching_belongs_only_to_reply_links() -> None:
    assert error(
        with_links({"id": "q.x", "kind": "queue", "from": "shop", "to": "mail", "match": "arrival_order"})
    ) == (
        "links.q.x.match",
        "says how replies find their request: only for a reply link",
    )


def test_a_match_param_must_be_a_choice_among_the_ways_of_matching() -> None:
    assert parse_topology(with_matching(match_param="matching")).links["ask"].match_param == "matching"
    document = with_matching(match_param="matching")
    document["parameters"][0]["choices"] = ["correlation_id", "guess"]
    assert error(document) == (
        "links.ask.match_param",
        "names no choice parameter with choices among correlation_id, arrival_order",
    )


def test_a_pending_requests_panel_names_a_reply_link_and_the_page_gets_its_label() -> None:
    document = with_links(
        {**REPLY, "label": "stock asks"}, view={"panels": [{"kind": "pending_requests", "link": "ask"}]}
    )
    assert view_spec(parse_topology(document))["panels"] == [
        {"kind": "pending_requests", "link": "ask", "label": "stock asks"}
    ]
    assert error(doc(view={"panels": [{"kind": "pending_requests", "link": "q.mail"}]})) == (
        "view.panels[0].link",
        "names no reply link; reply links are none",
    )
