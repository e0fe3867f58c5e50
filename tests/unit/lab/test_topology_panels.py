"""The consumer and dead-letter panels of `view.panels`: what the validator accepts, the path and words of what it
refuses, and what the page gets to draw them."""

from __future__ import annotations

import jsonschema

from lab.model.topology import parse_topology, view_spec
from lab.model.topology_schema import TOPOLOGY_JSON_SCHEMA
from tests.unit.lab.test_topology import doc, error, with_links

SCALABLE = {"id": "jobs", "kind": "queue", "from": "shop", "to": "mail", "consumer_knobs": True, "label": "job queue"}


def panels(*found: dict[str, str]) -> dict[str, object]:
    return {"panels": list(found)}


def test_a_consumers_panel_names_a_queue_with_consumer_knobs_and_the_page_gets_its_label() -> None:
    document = with_links(SCALABLE, view=panels({"kind": "consumers", "link": "jobs"}))
    assert view_spec(parse_topology(document))["panels"] == [
        {"kind": "consumers", "link": "jobs", "label": "job queue"}
    ]


def test_a_consumers_panel_may_show_a_subscription_of_a_topic_with_consumer_knobs() -> None:
    news = {"id": "news", "kind": "topic", "from": "shop", "consumer_knobs": True}
    news["subscriptions"] = [{"id": "sub.mail", "to": "mail"}]
    document = with_links(news, view=panels({"kind": "consumers", "link": "sub.mail"}))
    assert view_spec(parse_topology(document))["panels"] == [
        {"kind": "consumers", "link": "sub.mail", "label": "Mail's subscription"}
    ]
    assert error(with_links(news, view=panels({"kind": "consumers", "link": "news"}))) == (
        "view.panels[0].link",
        "names no queue or subscription with consumer_knobs; queues and subscriptions with consumer_knobs are sub.mail",
    )


def test_a_consumers_panel_on_a_queue_without_knobs_is_refused_with_the_queues_that_have_them() -> None:
    assert error(with_links(SCALABLE, view=panels({"kind": "consumers", "link": "q.mail"}))) == (
        "view.panels[0].link",
        "names no queue or subscription with consumer_knobs; queues and subscriptions with consumer_knobs are jobs",
    )
    assert error(doc(view=panels({"kind": "consumers"}))) == (
        "view.panels[0].link",
        "names no queue or subscription with consumer_knobs; queues and subscriptions with consumer_knobs are none",
    )


def test_a_dead_letters_panel_lists_the_whole_runs_dead_letters_under_their_node_label() -> None:
    document = doc(view=panels({"kind": "dead_letters"}), dead_letters={"label": "Parked jobs"})
    assert view_spec(parse_topology(document))["panels"] == [{"kind": "dead_letters", "label": "Parked jobs"}]


def test_a_dead_letters_panel_takes_no_link_and_needs_a_queue_that_can_dead_letter() -> None:
    assert error(doc(view=panels({"kind": "dead_letters", "link": "q.mail"}))) == (
        "view.panels[0].link",
        "a dead_letters panel lists the dead letters of every queue; it takes no link",
    )
    document = doc(view=panels({"kind": "dead_letters"}))
    document["links"] = document["links"][:1]
    document["workload"]["classes"]["order"]["steps"] = [{"call": "shop-stock"}]
    assert error(document) == (
        "view.panels[0].kind",
        "dead_letters needs a queue or topic whose messages can be dead-lettered",
    )


def test_the_json_schema_asks_a_link_of_the_panels_that_show_one_and_refuses_it_on_the_others() -> None:
    validator = jsonschema.Draft202012Validator(TOPOLOGY_JSON_SCHEMA)
    assert not list(validator.iter_errors(doc(view=panels({"kind": "dead_letters"}))))
    assert list(validator.iter_errors(doc(view=panels({"kind": "dead_letters", "link": "q.mail"}))))
    assert list(validator.iter_errors(doc(view=panels({"kind": "consumers"}))))
