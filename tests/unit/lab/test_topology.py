"""The topology document validator: every rule of `parse_topology`, each with the path and the words it reports."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lab.model.catalog import EXPERIMENTS
from lab.model.topology import (
    CHART_KINDS,
    INVARIANT_KINDS,
    MAX_DEPTH,
    STEP_KINDS,
    TOP_FIELDS,
    TopologyError,
    diagram,
    parse_topology,
    view_spec,
)

BASE: dict[str, Any] = {
    "slug": "shop",
    "title": "Shop",
    "services": {
        "client": {"kind": "client"},
        "shop": {"work_ms": 10, "pool": {"size": 4, "param": "shop_pool"}},
        "stock": {"work_ms": 20, "work_param": "stock_ms", "faults": True},
        "mail": {"work_ms": 5, "instances": 2},
    },
    "policies": {"timeout": {"kind": "timeout", "ms": 500}, "retry": {"kind": "retry"}},
    "links": [
        {"id": "shop-stock", "kind": "call", "from": "shop", "to": "stock", "timeout": "timeout"},
        {"id": "q.mail", "kind": "queue", "from": "shop", "to": "mail", "retry": "retry"},
    ],
    "workload": {"entry": "shop", "classes": {"order": {"steps": [{"call": "shop-stock"}, {"send": "q.mail"}]}}},
    "presets": [{"slug": "calm", "title": "Calm", "config": {"duration": 10}}],
}
SERVICES = "client, shop, stock, mail"
SERVICE_FIELDS = "at, faults, instances, jitter_ms, kind, label, on, pool, steps, work_ms, work_param"
NAME_RULE = "must be a lower-case name: letters, digits, '-' or '_', starting with a letter"


def doc(**changes: Any) -> dict[str, Any]:
    """A fresh copy of the valid base document with some top-level fields replaced."""
    document = copy.deepcopy(BASE)
    document.update(copy.deepcopy(changes))
    return document


def with_links(*extra: dict[str, Any], **changes: Any) -> dict[str, Any]:
    document = doc(**changes)
    document["links"] += [copy.deepcopy(link) for link in extra]
    return document


def with_service(name: str, **spec: Any) -> dict[str, Any]:
    document = doc()
    document["services"][name] = spec
    return document


def with_class_steps(*steps: dict[str, Any]) -> dict[str, Any]:
    document = doc()
    document["workload"]["classes"]["order"]["steps"] = list(steps)
    return document


def errors(document: Any) -> dict[str, str]:
    with pytest.raises(TopologyError) as caught:
        parse_topology(document)
    return caught.value.errors


def error(document: Any) -> tuple[str, str]:
    """The one error a document has, as (path, message)."""
    found = errors(document)
    assert len(found) == 1, found
    return next(iter(found.items()))


# The base document and how errors are reported


def test_the_base_document_of_these_tests_is_valid() -> None:
    topology = parse_topology(doc())
    assert list(topology.services) == ["client", "shop", "stock", "mail"]
    assert list(topology.links) == ["shop-stock", "q.mail"]


def test_an_error_names_the_source_the_element_and_the_field() -> None:
    with pytest.raises(TopologyError) as caught:
        parse_topology(doc(title=None), source="shop.yaml")
    assert caught.value.source == "shop.yaml"
    assert str(caught.value) == "shop.yaml: document.title: is required"


def test_every_problem_in_a_document_is_reported_at_once() -> None:
    document = doc(slug="Shop", title=None)
    document["links"][0]["to"] = "nowhere"
    assert set(errors(document)) == {"slug", "document.title", "links.shop-stock.to"}


def test_an_empty_document_is_called_empty() -> None:
    assert error({}) == ("document", "is empty")


def test_a_document_that_is_not_a_mapping_says_what_it_got() -> None:
    assert error(["slug", "shop"]) == ("document", "must be a mapping, got list")


# Values of the wrong type


def set_at(path: list[Any], value: Any) -> dict[str, Any]:
    document = doc()
    place: Any = document
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = value
    return document


def rename(path: list[Any], key: Any) -> dict[str, Any]:
    document = doc()
    place: Any = document
    for step in path[:-1]:
        place = place[step]
    place[key] = place.pop(path[-1])
    return document


@pytest.mark.parametrize(
    ("document", "path"),
    [
        (set_at(["links", 0, "id"], [1]), "links.[1].id"),
        (set_at(["links", 0, "id"], None), "links.None.id"),
        (set_at(["links", 0, "to"], ["stock"]), "links.shop-stock.to"),
        (set_at(["links", 0, "from"], {"shop": 1}), "links.shop-stock.from"),
        (set_at(["links", 0, "timeout"], ["timeout"]), "links.shop-stock.timeout"),
        (set_at(["workload", "entry"], ["shop"]), "workload.entry"),
        (set_at(["workload", "retry"], ["retry"]), "workload.retry"),
        (set_at(["workload", "group_by"], ["mode"]), "workload.group_by"),
        (set_at(["workload", "select"], {"param": ["mode"]}), "workload.select.param"),
        (set_at(["workload", "select"], {"param": "mode", "together": ["all"]}), "workload.select.together"),
        (set_at(["workload", "classes", "order", "bulkhead"], ["b"]), "workload.classes.order.bulkhead"),
        (set_at(["services", "shop", "work_param"], ["shop_ms"]), "services.shop.work_param"),
        (set_at(["services", "shop", "pool", "param"], ["shop_pool"]), "services.shop.pool.param"),
        (set_at(["default_preset"], ["calm"]), "default_preset"),
        (set_at(["view"], {"charts": [{"kind": "arrivals", "target": ["stock"]}]}), "view.charts[0].target"),
        (set_at(["view"], {"charts": [{"target": "stock"}]}), "view.charts[0].kind"),
        (set_at(["view"], {"charts": ["latency"]}), "view.charts[0]"),
        (set_at(["invariants"], [{"name": "once"}]), "invariants[0].kind"),
        (
            set_at(["parameters"], [{"name": ["x"], "type": "bool", "default": True, "label": "X"}]),
            "parameters[0].name",
        ),
        (
            set_at(["parameters"], [{"name": "x", "type": "choice", "default": "a", "label": "X", "choices": [["a"]]}]),
            "parameters[0].choices",
        ),
        (rename(["services", "mail"], 7), "services.7"),
        (rename(["policies", "retry"], 7), "policies.7"),
        (rename(["workload", "classes", "order"], 7), "workload.classes.7"),
    ],
)
def test_a_value_of_the_wrong_type_is_reported_at_its_path_never_a_crash(document: dict, path: str) -> None:
    assert path in errors(document)


# Top-level fields


def nested(path: list[Any], value: Any) -> dict[str, Any]:
    """The base document (plus a topic and a stream) with `value` set at `path`."""
    document = with_links(
        topic({"id": "news.mail", "to": "mail"}),
        {"id": "log", "kind": "stream", "from": "shop", "to": "mail", "groups": [{"id": "g", "to": "mail"}]},
        dead_letters={"label": "Dead"},
    )
    document["workload"]["select"] = {"param": "mode"}
    document["presets"][0]["script"] = [{"at": 1, "set": {}}]
    place: Any = document
    for key in path[:-1]:
        place = place[key]
    place[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("where", "path", "allowed"),
    [
        (["services", "shop", "pool", "max"], "services.shop.pool.max", "param, size, when_full"),
        (
            ["links", 2, "subscriptions", 0, "filtre"],
            "links.news.subscriptions[0].filtre",
            "at, binding, delivery, durable, filter, id, poll_ms, subscribed, to",
        ),
        (["links", 3, "groups", 0, "offset"], "links.log.groups[0].offset", "id, to"),
        (
            ["workload", "durration"],
            "workload.durration",
            "arrival, classes, duration, entry, group_by, rate, retry, select",
        ),
        (["workload", "classes", "order", "step"], "workload.classes.order.step", "bulkhead, steps"),
        (
            ["workload", "select", "choices"],
            "workload.select.choices",
            "default, help, label, param, together, weights",
        ),
        (["presets", 0, "notes"], "presets.calm.notes", "config, next, notice, predict, script, slug, title"),
        (["presets", 0, "script", 0, "values"], "presets.calm.script[0].values", "at, set"),
        (["dead_letters", "x"], "dead_letters.x", "at, label"),
    ],
)
def test_an_unknown_field_anywhere_is_named_with_the_fields_allowed_there(where: list, path: str, allowed: str) -> None:
    assert error(nested(where, 1)) == (path, f"unknown field; allowed: {allowed}")


def test_an_unknown_top_level_field_is_named_with_the_fields_allowed() -> None:
    allowed = ", ".join(sorted(TOP_FIELDS))
    assert error(doc(colour="blue")) == ("document.colour", f"unknown field; allowed: {allowed}")


def test_a_document_without_a_title_is_told_the_title_is_required() -> None:
    document = doc()
    del document["title"]
    assert error(document) == ("document.title", "is required")


def test_a_title_longer_than_120_characters_is_refused() -> None:
    assert error(doc(title="x" * 121)) == ("document.title", "must be text of at most 120 characters")


def test_planned_is_true_or_false() -> None:
    assert parse_topology(doc(planned=True)).slug == "shop"
    assert error(doc(planned="soon")) == ("document.planned", "must be true or false, got 'soon'")


@pytest.mark.parametrize("slug", ["Shop", "9lives", "shop shop", "", None, "s" * 33])
def test_a_slug_must_be_a_short_lower_case_name(slug: Any) -> None:
    assert error(doc(slug=slug)) == ("slug", NAME_RULE)


# Services


def test_a_service_with_a_bad_name_names_the_service() -> None:
    assert error(with_service("Billing!")) == ("services.Billing!", NAME_RULE)


def test_a_document_needs_at_least_one_service() -> None:
    assert errors(doc(services={}))["services"] == "declare at least one service"


def test_an_unknown_service_field_is_named_with_the_fields_allowed() -> None:
    assert error(with_service("fax", colour="blue")) == (
        "services.fax.colour",
        f"unknown field; allowed: {SERVICE_FIELDS}",
    )


def test_a_bare_on_read_by_yaml_as_true_is_told_to_quote_it() -> None:
    document = with_service("fax", colour="red")
    document["services"]["fax"].update({2: "two", True: {"order.placed": []}})
    assert errors(document) == {
        "services.fax.2": f"unknown field; allowed: {SERVICE_FIELDS}",
        "services.fax.colour": f"unknown field; allowed: {SERVICE_FIELDS}",
        "services.fax.on": 'write "on" in quotes: YAML reads a bare on as true',
    }


@pytest.mark.parametrize(
    ("spec", "path", "message"),
    [
        ({"work_ms": -1}, "services.fax.work_ms", "must be a number from 0 to 60000, got -1"),
        ({"jitter_ms": "lots"}, "services.fax.jitter_ms", "must be a number from 0 to 10000, got 'lots'"),
        ({"instances": 2.5}, "services.fax.instances", "must be a whole number from 1 to 64, got 2.5"),
        ({"instances": 65}, "services.fax.instances", "must be a whole number from 1 to 64, got 65"),
        ({"pool": {"size": 0}}, "services.fax.pool.size", "must be a whole number from 1 to 200, got 0"),
        ({"pool": {"when_full": "drop"}}, "services.fax.pool.when_full", "must be one of reject, wait, got 'drop'"),
        ({"kind": "database"}, "services.fax.kind", "must be one of client, service, orchestrator, got 'database'"),
        ({"faults": "yes"}, "services.fax.faults", "must be true or false, got 'yes'"),
        ({"label": "x" * 41}, "services.fax.label", "must be text of at most 40 characters"),
    ],
)
def test_a_service_setting_out_of_range_names_the_field_and_the_range(spec: dict, path: str, message: str) -> None:
    assert error(with_service("fax", **spec)) == (path, message)


def test_a_service_time_made_a_knob_stays_within_the_knob_range() -> None:
    assert error(with_service("fax", work_ms=6000, work_param="fax_ms")) == (
        "services.fax.work_ms",
        "must be at most 5000 when work_param makes it a knob",
    )
    assert parse_topology(with_service("fax", work_ms=6000)).services["fax"].work_ms == 6000


@pytest.mark.parametrize("field", ["work_param", "pool"])
def test_a_parameter_a_service_declares_needs_a_parameter_name(field: str) -> None:
    spec = {"work_param": "Fax Time"} if field == "work_param" else {"pool": {"param": "Fax Pool"}}
    path = "services.fax.work_param" if field == "work_param" else "services.fax.pool.param"
    assert error(with_service("fax", **spec)) == (path, NAME_RULE)


@pytest.mark.parametrize("at", [[0.5], [0.5, 1.5], [-0.1, 0.5], "middle", [True, 0.5], [0.1, 0.2, 0.3]])
def test_a_bad_at_asks_for_two_numbers_between_0_and_1(at: Any) -> None:
    assert error(with_service("fax", at=at)) == ("services.fax.at", "must be [x, y] with both between 0 and 1")


def test_a_bad_at_on_a_link_or_the_dead_letters_names_that_element() -> None:
    document = doc(dead_letters={"at": [2, 2]})
    document["links"][1]["at"] = [0.5, -1]
    assert errors(document) == {
        "links.q.mail.at": "must be [x, y] with both between 0 and 1",
        "dead_letters.at": "must be [x, y] with both between 0 and 1",
    }


def test_more_than_12_services_are_over_the_limit() -> None:
    document = doc()
    document["services"].update({f"extra{i}": {} for i in range(9)})
    assert errors(document)["services"] == "at most 12 services, got 13"


def test_twelve_services_are_within_the_limit() -> None:
    document = doc()
    document["services"].update({f"extra{i}": {} for i in range(8)})
    assert len(parse_topology(document).services) == 12


# Links


def test_a_link_to_a_missing_service_names_the_link_and_the_services() -> None:
    document = doc()
    document["links"][0]["to"] = "warehouse"
    assert error(document) == ("links.shop-stock.to", f"names no service; services are {SERVICES}")


def test_a_link_from_a_missing_service_names_the_link_and_the_services() -> None:
    document = doc()
    document["links"][1]["from"] = "billing"
    assert errors(document)["links.q.mail.from"] == f"names no service; services are {SERVICES}"


def test_a_link_without_a_to_is_told_it_names_no_service() -> None:
    document = doc()
    del document["links"][1]["to"]
    assert error(document) == ("links.q.mail.to", f"names no service; services are {SERVICES}")


def test_a_topic_may_leave_out_to_but_a_to_it_gives_must_name_a_service() -> None:
    topic = {"id": "news", "kind": "topic", "from": "shop", "subscriptions": [{"id": "news.mail", "to": "mail"}]}
    assert parse_topology(with_links(topic)).links["news"].target == "mail"
    assert error(with_links({**topic, "to": "nobody"})) == (
        "links.news.to",
        f"names no service; services are {SERVICES}",
    )


def test_a_link_of_an_unknown_kind_lists_the_kinds() -> None:
    document = doc()
    document["links"][1]["kind"] = "pipe"
    document["workload"]["classes"]["order"]["steps"].pop()
    assert error(document) == ("links.q.mail.kind", "must be one of call, queue, topic, stream, reply, got 'pipe'")


def test_an_unknown_link_field_is_named() -> None:
    document = doc()
    document["links"][1]["colour"] = "red"
    path, message = error(document)
    assert path == "links.q.mail.colour"
    assert message.startswith("unknown field; allowed: ack, at, breaker, bulkhead, classes, consumer_knobs,")


def test_consumer_knobs_belong_to_queues_and_topics_only() -> None:
    document = doc()
    document["links"][0]["consumer_knobs"] = True
    assert error(document) == (
        "links.shop-stock.consumer_knobs",
        "only a queue or a topic (each subscription) has consumer knobs; this link is a call",
    )


def test_a_topic_with_consumer_knobs_gives_each_subscription_its_own_count_prefetch_slowness_and_poison() -> None:
    news = {
        "id": "news",
        "kind": "topic",
        "from": "shop",
        "consumer_knobs": True,
        "prefetch": 4,
        "subscriptions": [{"id": "sub.mail", "to": "mail"}, {"id": "sub.stock", "to": "stock"}],
    }
    topology = parse_topology(with_links(news))
    suffixes = (".consumers", ".prefetch", ".slow_consumer_ms", ".poison_share")
    knobs = {n: (p.default, p.maximum, p.group) for n, p in topology.schema.by_name.items() if n.endswith(suffixes)}
    assert knobs == {
        "sub.mail.consumers": (2, 64, "subscription:sub.mail"),  # mail runs two instances
        "sub.mail.prefetch": (4, 100, "subscription:sub.mail"),
        "sub.mail.slow_consumer_ms": (0.0, 10_000, "subscription:sub.mail"),
        "sub.mail.poison_share": (0.0, 1, "subscription:sub.mail"),
        "sub.stock.consumers": (1, 64, "subscription:sub.stock"),
        "sub.stock.prefetch": (4, 100, "subscription:sub.stock"),
        "sub.stock.slow_consumer_ms": (0.0, 10_000, "subscription:sub.stock"),
        "sub.stock.poison_share": (0.0, 1, "subscription:sub.stock"),
    }
    assert topology.schema.by_name["sub.mail.consumers"].label == "Mail's subscription: consumers"
    with pytest.raises(ValueError, match=r"sub\.mail\.consumers.*0 to 64.*got 65"):
        topology.schema.validate({"sub.mail.consumers": 65})


def test_a_queue_with_consumer_knobs_gets_live_count_prefetch_slowness_and_poison_knobs() -> None:
    document = doc()
    document["links"][1].update(consumer_knobs=True, prefetch=10)
    params = parse_topology(document).schema.by_name
    knobs = {n: (p.default, p.minimum, p.maximum, p.live) for n, p in params.items() if n.startswith("q.mail.")}
    assert knobs == {
        "q.mail.consumers": (2, 0, 64, True),  # mail runs two instances
        "q.mail.prefetch": (10, 1, 100, True),
        "q.mail.slow_consumer_ms": (0.0, 0, 10_000, True),
        "q.mail.poison_share": (0.0, 0, 1, True),
    }


@pytest.mark.parametrize("link_id", ["Q-Mail", "q mail", "1queue"])
def test_a_link_with_a_bad_id_names_the_id(link_id: str) -> None:
    document = doc()
    document["links"][1]["id"] = link_id
    document["workload"]["classes"]["order"]["steps"].pop()
    assert error(document) == (f"links.{link_id}.id", NAME_RULE)


def test_a_link_without_an_id_is_named_by_its_position() -> None:
    document = doc()
    del document["links"][1]["id"]
    document["workload"]["classes"]["order"]["steps"].pop()
    assert error(document) == ("links.#1.id", NAME_RULE)


@pytest.mark.parametrize("link_id", ["shop-stock", "mail"])
def test_a_link_id_may_not_repeat_a_link_or_a_service(link_id: str) -> None:
    extra = {"id": link_id, "kind": "queue", "from": "shop", "to": "stock"}
    assert error(with_links(extra)) == (
        f"links.{link_id}.id",
        "is already used by another link, a subscription or a service",
    )


def test_a_subscription_id_may_not_repeat_a_link_a_service_or_another_subscription() -> None:
    topic = {
        "id": "news",
        "kind": "topic",
        "from": "shop",
        "subscriptions": [{"id": "q.mail", "to": "mail"}, {"id": "stock", "to": "stock"}, {"id": "x", "to": "mail"}],
    }
    later = {"id": "x", "kind": "queue", "from": "shop", "to": "mail"}
    taken = "is already used by another link, a subscription or a service"
    assert errors(with_links(topic, later)) == {
        "links.news.subscriptions[0].id": taken,
        "links.news.subscriptions[1].id": taken,
        "links.x.id": taken,
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_deliveries", 21, "must be a whole number from 0 to 20, got 21"),
        ("prefetch", 0, "must be a whole number from 1 to 100, got 0"),
        ("retention", 5, "must be a whole number from 10 to 100000, got 5"),
        ("deadline_ms", 60_001, "must be a number from 0 to 60000, got 60001"),
        ("label", "x" * 41, "must be text of at most 40 characters"),
    ],
)
def test_a_link_setting_out_of_range_names_the_field_and_the_range(field: str, value: Any, message: str) -> None:
    document = doc()
    document["links"][1][field] = value
    assert error(document) == (f"links.q.mail.{field}", message)


def test_more_than_24_links_are_over_the_limit() -> None:
    extra = [{"id": f"q{i}", "kind": "queue", "from": "shop", "to": "mail"} for i in range(23)]
    assert errors(with_links(*extra))["links"] == "at most 24 links, got 25"


def test_24_links_are_within_the_limit() -> None:
    extra = [{"id": f"q{i}", "kind": "queue", "from": "shop", "to": "mail"} for i in range(22)]
    assert len(parse_topology(with_links(*extra)).links) == 24


def stream(**changes: Any) -> dict[str, Any]:
    return {
        "id": "log",
        "kind": "stream",
        "from": "shop",
        "to": "mail",
        "groups": [{"id": "g", "to": "mail"}],
    } | changes


def test_more_than_8_partitions_are_over_the_limit() -> None:
    assert parse_topology(with_links(stream(partitions=8))).links["log"].partitions == 8
    assert error(with_links(stream(partitions=9))) == (
        "links.log.partitions",
        "must be a whole number from 1 to 8, got 9",
    )


def test_a_stream_without_consumer_groups_is_told_it_needs_one() -> None:
    assert error(with_links(stream(groups=[]))) == ("links.log.groups", "a stream needs at least one consumer group")


def test_a_consumer_group_names_a_service_and_has_a_good_name() -> None:
    groups = [{"id": "Group 1", "to": "mail"}, {"id": "g2", "to": "nobody"}]
    assert errors(with_links(stream(groups=groups))) == {
        "links.log.groups[0].id": NAME_RULE,
        "links.log.groups[1].to": f"names no service; services are {SERVICES}",
    }


def topic(*subscriptions: dict[str, Any]) -> dict[str, Any]:
    return {"id": "news", "kind": "topic", "from": "shop", "subscriptions": list(subscriptions)}


def test_a_topic_without_subscriptions_is_told_it_needs_one() -> None:
    assert error(with_links(topic())) == ("links.news.subscriptions", "a topic needs at least one subscription")


def test_a_subscription_to_a_missing_service_names_the_subscription() -> None:
    assert error(with_links(topic({"id": "news.fax", "to": "fax"}))) == (
        "links.news.subscriptions[0].to",
        f"names no service; services are {SERVICES}",
    )


@pytest.mark.parametrize("text", ["total >", "total >> 3", "total > 1000 and region == 'eu'", "Total > 3", "x = 1"])
def test_a_bad_content_filter_shows_how_to_write_one(text: str) -> None:
    assert error(with_links(topic({"id": "news.mail", "to": "mail", "filter": text}))) == (
        "links.news.subscriptions[0].filter",
        "must compare one field with a number or quoted text, e.g. total > 1000 or region == 'eu'",
    )


def test_a_subscription_keeps_its_binding_and_filter_and_defaults_to_every_key() -> None:
    link = parse_topology(
        with_links(topic({"id": "news.mail", "to": "mail"}, {"id": "news.big", "to": "stock", "filter": "total > 9"}))
    ).links["news"]
    assert [(s.id, s.to, s.binding, s.filter, s.durable) for s in link.subscriptions] == [
        ("news.mail", "mail", "#", "", True),
        ("news.big", "stock", "#", "total > 9", True),
    ]


@pytest.mark.parametrize("binding", ["orders..placed", "orders.Placed", "orders.*x", "", "orders placed"])
def test_a_bad_binding_shows_how_to_write_one(binding: str) -> None:
    assert error(with_links(topic({"id": "news.mail", "to": "mail", "binding": binding}))) == (
        "links.news.subscriptions[0].binding",
        "must be dot-separated words (letters, digits, - or _), * for exactly one word, # for zero or more,"
        " e.g. orders.* or #.eu",
    )


def test_each_subscription_gets_live_knobs_for_its_binding_filter_and_whether_it_is_subscribed() -> None:
    schema = parse_topology(
        with_links(topic({"id": "news.mail", "to": "mail", "binding": "orders.*", "subscribed": False}))
    ).schema
    knobs = {p.name: (p.kind, p.default, p.live, p.group) for p in schema.params if p.name.startswith("news.mail.")}
    assert knobs == {
        "news.mail.subscribed": ("bool", False, True, "subscription:news.mail"),
        "news.mail.delivery": ("choice", "push", True, "subscription:news.mail"),
        "news.mail.poll_ms": ("int", 1000, True, "subscription:news.mail"),
        "news.mail.binding": ("text", "orders.*", True, "subscription:news.mail"),
        "news.mail.filter": ("text", "", True, "subscription:news.mail"),
    }


def test_a_subscription_is_drawn_where_its_at_says_or_beside_its_topic() -> None:
    document = with_links(topic({"id": "news.mail", "to": "mail", "at": [0.5, 0.9]}, {"id": "news.log", "to": "mail"}))
    document["links"][2]["at"] = [0.3, 0.5]
    nodes = {n["id"]: (n["x"], n["y"]) for n in diagram(parse_topology(document))["nodes"]}
    assert nodes["news.mail"] == (0.5, 0.9)
    assert nodes["news.log"] == (pytest.approx(0.42), pytest.approx(0.57))


def test_a_step_switched_by_when_must_name_a_bool_knob() -> None:
    document = with_class_steps({"call": "shop-stock", "when": "stock.latency_ms"})
    assert error(document) == (
        "workload.classes.order.steps[0].when",
        "names no bool parameter; bool parameters are retry.enabled, stock.down, stock.reorder, timeout.enabled",
    )


def test_a_step_switched_by_a_bool_knob_is_valid() -> None:
    parse_topology(with_class_steps({"call": "shop-stock", "when": "stock.down"}))


# Policies


def test_a_policy_reference_to_a_missing_policy_lists_the_policies() -> None:
    document = doc()
    document["links"][0]["breaker"] = "breaker"
    assert error(document) == ("links.shop-stock.breaker", "names no policy; policies are timeout, retry")


def test_a_policy_reference_in_a_document_without_policies_says_there_are_none() -> None:
    document = doc()
    del document["policies"]
    assert errors(document) == {
        "links.shop-stock.timeout": "names no policy; policies are none",
        "links.q.mail.retry": "names no policy; policies are none",
    }


def test_a_policy_of_the_wrong_kind_in_a_slot_names_both_kinds() -> None:
    document = doc()
    document["links"][0]["timeout"] = "retry"
    assert error(document) == ("links.shop-stock.timeout", "policy 'retry' is a retry policy, not a timeout policy")


def test_a_policy_setting_its_kind_does_not_have_lists_the_settings_it_has() -> None:
    document = doc()
    document["policies"]["timeout"]["seconds"] = 3
    assert error(document) == ("policies.timeout.seconds", "unknown timeout setting; allowed: enabled, ms")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("ms", "fast", "must be float, got 'fast'"),
        ("enabled", "yes", "must be bool, got 'yes'"),
    ],
)
def test_a_policy_setting_of_the_wrong_type_names_the_type(setting: str, value: Any, message: str) -> None:
    document = doc()
    document["policies"]["timeout"][setting] = value
    assert error(document) == (f"policies.timeout.{setting}", message)


def test_a_whole_number_policy_setting_refuses_true_and_fractions() -> None:
    document = doc()
    document["policies"]["retry"]["max_attempts"] = True
    assert error(document) == ("policies.retry.max_attempts", "must be int, got True")


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("max_attempts", 0, "must be a whole number from 1 to 10, got 0"),
        ("delay_ms", 20_000, "must be a number from 0 to 10000 ms, got 20000"),
        ("backoff", "fibonacci", "must be one of constant, linear, exponential, got 'fibonacci'"),
        ("jitter", "some", "must be one of none, full, equal, decorrelated, got 'some'"),
    ],
)
def test_a_policy_setting_out_of_the_range_of_its_knob_names_the_range(setting: str, value: Any, message: str) -> None:
    document = doc()
    document["policies"]["retry"][setting] = value
    assert error(document) == (f"policies.retry.{setting}", message)


def test_a_policy_of_an_unknown_kind_lists_the_kinds() -> None:
    document = doc()
    document["policies"]["cache"] = {"kind": "cache"}
    assert error(document) == (
        "policies.cache.kind",
        "must be one of timeout, retry, breaker, bulkhead, idempotency, got 'cache'",
    )


def test_a_policy_with_a_bad_name_names_the_policy() -> None:
    document = doc()
    document["policies"]["Slow Timeout"] = {"kind": "timeout"}
    assert error(document) == ("policies.Slow Timeout", NAME_RULE)


def test_a_policy_gives_resilience4j_knobs_named_after_the_policy() -> None:
    document = doc()
    document["policies"]["guard"] = {"kind": "breaker", "failure_rate_threshold": 25}
    document["links"][0]["breaker"] = "guard"
    schema = parse_topology(document).schema.by_name
    assert schema["guard.failure_rate_threshold"].default == 25.0
    assert schema["guard.failure_rate_threshold"].label == "failureRateThreshold"
    assert schema["guard.wait_duration_in_open_state_ms"].label == "waitDurationInOpenState"
    assert schema["timeout.ms"].default == 500.0 and schema["timeout.ms"].live
    assert schema["retry.max_attempts"].label == "maxAttempts"


# Steps


def test_a_step_naming_no_link_lists_the_links() -> None:
    assert error(with_class_steps({"call": "shop-billing"})) == (
        "workload.classes.order.steps[0].call",
        "names no link; links are shop-stock, q.mail",
    )


def test_a_step_over_a_link_of_the_wrong_kind_names_the_kinds_it_needs() -> None:
    assert errors(with_class_steps({"call": "q.mail"}, {"send": "shop-stock"})) == {
        "workload.classes.order.steps[0].call": "call needs a call link; 'q.mail' is a queue",
        "workload.classes.order.steps[1].send": "send needs a queue or topic or stream link; 'shop-stock' is a call",
    }


def test_a_request_step_needs_a_reply_link() -> None:
    assert error(with_class_steps({"request": "q.mail"})) == (
        "workload.classes.order.steps[0].request",
        "request needs a reply link; 'q.mail' is a queue",
    )


def test_a_step_over_a_link_leaving_another_service_names_both_services() -> None:
    document = doc()
    document["services"]["stock"]["steps"] = [{"work": 5}, {"send": "q.mail"}]
    assert error(document) == ("services.stock.steps[1].send", "link 'q.mail' leaves shop, not stock")


def test_a_class_step_must_leave_the_entry_service() -> None:
    document = with_links({"id": "q.stock", "kind": "queue", "from": "stock", "to": "mail"})
    document["workload"]["classes"]["order"]["steps"] = [{"send": "q.stock"}]
    assert error(document) == ("workload.classes.order.steps[0].send", "link 'q.stock' leaves stock, not shop")


def test_a_reaction_step_is_named_by_its_event() -> None:
    document = doc()
    document["services"]["mail"]["on"] = {"order.placed": [{"call": "shop-stock"}]}
    assert error(document) == ("services.mail.on.order.placed[0].call", "link 'shop-stock' leaves shop, not mail")


def test_a_step_inside_a_saga_is_named_by_where_it_is_written() -> None:
    document = doc()
    document["services"]["shop"]["steps"] = [
        {"work": 1},
        {"saga": {"steps": [{"call": "shop-stock"}, {"send": "nowhere", "compensate": {"send": "q.nothing"}}]}},
    ]
    assert errors(document) == {
        "services.shop.steps[1].saga.steps[1].send": "names no link; links are shop-stock, q.mail",
        "services.shop.steps[1].saga.steps[1].compensate.send": "names no link; links are shop-stock, q.mail",
    }


def test_a_step_after_a_broken_one_is_still_named_by_its_own_position() -> None:
    assert errors(with_class_steps({"shout": "x"}, {"call": "nowhere"})) == {
        "workload.classes.order.steps[0]": f"must have exactly one of {', '.join(STEP_KINDS)}",
        "workload.classes.order.steps[1].call": "names no link; links are shop-stock, q.mail",
    }


def test_a_step_with_two_kinds_must_choose_one() -> None:
    assert error(with_class_steps({"call": "shop-stock", "send": "q.mail"})) == (
        "workload.classes.order.steps[0]",
        f"must have exactly one of {', '.join(STEP_KINDS)}",
    )


def test_a_step_naming_a_link_must_name_it_with_text() -> None:
    assert errors(with_class_steps({"call": 3}))["workload.classes.order.steps[0].call"] == (
        "must name a link (or, for emit and fail, an event)"
    )


def test_a_work_step_takes_milliseconds_up_to_a_minute() -> None:
    assert error(with_class_steps({"work": 60_001})) == (
        "workload.classes.order.steps[0].work",
        "must be a number from 0 to 60000, got 60001",
    )


def test_an_aggregate_waits_for_at_least_two_events() -> None:
    assert error(with_class_steps({"aggregate": {"events": ["paid"]}})) == (
        "workload.classes.order.steps[0].aggregate.events",
        "list at least two events to wait for",
    )


def nested_sagas(depth: int) -> dict[str, Any]:
    step: dict[str, Any] = {"work": 1}
    for _ in range(depth):
        step = {"saga": {"steps": [step]}}
    return step


def test_steps_nesting_too_deep_are_stopped_where_they_go_too_deep() -> None:
    assert parse_topology(with_class_steps(nested_sagas(MAX_DEPTH - 1)))
    path = "workload.classes.order.steps" + "[0].saga.steps" * MAX_DEPTH
    assert error(with_class_steps(nested_sagas(MAX_DEPTH))) == (path, f"steps nest at most {MAX_DEPTH} deep")


def test_more_than_40_steps_in_one_handler_are_over_the_limit() -> None:
    assert error(with_class_steps(*[{"work": 1}] * 41)) == ("workload.classes.order.steps", "at most 40 steps, got 41")


def test_a_step_keeps_its_options_for_the_engine() -> None:
    document = with_links(topic({"id": "news.mail", "to": "mail"}))
    document["workload"]["classes"]["order"]["steps"] = [{"send": "news", "key": "order.placed", "body": {"total": 5}}]
    step = parse_topology(document).workload.classes[0].steps[0]
    assert (step.kind, step.target, step.options) == ("send", "news", {"key": "order.placed", "body": {"total": 5}})


# Sync cycles


def test_a_cycle_of_sync_calls_is_refused_with_its_path() -> None:
    back = {"id": "stock-shop", "kind": "call", "from": "stock", "to": "shop"}
    assert error(with_links(back)) == ("links", "sync calls form a cycle: shop → stock → shop")


def test_a_longer_cycle_of_sync_calls_is_shown_whole() -> None:
    links = [
        {"id": "stock-mail", "kind": "call", "from": "stock", "to": "mail"},
        {"id": "mail-shop", "kind": "call", "from": "mail", "to": "shop"},
    ]
    assert error(with_links(*links)) == ("links", "sync calls form a cycle: shop → stock → mail → shop")


def test_a_service_calling_itself_is_a_cycle() -> None:
    loop = {"id": "mail-mail", "kind": "call", "from": "mail", "to": "mail"}
    assert error(with_links(loop)) == ("links", "sync calls form a cycle: mail → mail")


def test_an_async_cycle_is_allowed() -> None:
    back = {"id": "q.back", "kind": "queue", "from": "mail", "to": "shop"}
    assert "q.back" in parse_topology(with_links(back)).links


# Workload


def test_a_workload_entry_naming_no_service_lists_the_services() -> None:
    document = doc()
    document["workload"]["entry"] = "front"
    found = errors(document)
    assert found["workload.entry"] == f"names no service; services are {SERVICES}"


def test_a_workload_needs_a_request_class() -> None:
    document = doc()
    document["workload"]["classes"] = {}
    assert error(document) == ("workload.classes", "declare at least one request class")


@pytest.mark.parametrize(
    ("field", "value", "path", "message"),
    [
        ("arrival", "storm", "workload.arrival", "must be uniform, poisson or burst, got 'storm'"),
        ("arrival", {"default": "storm"}, "workload.arrival", "must be uniform, poisson or burst, got 'storm'"),
        ("duration", 301, "workload.duration", "must be a whole number from 5 to 300, got 301"),
        ("rate", 0.1, "workload.rate", "must be a number from 0.5 to 50, got 0.1"),
        ("retry", "timeout", "workload.retry", "names no retry policy"),
    ],
)
def test_a_workload_setting_names_its_field(field: str, value: Any, path: str, message: str) -> None:
    document = doc()
    document["workload"][field] = value
    assert error(document) == (path, message)


def test_a_class_bulkhead_must_name_a_bulkhead_policy() -> None:
    document = doc()
    document["workload"]["classes"]["order"]["bulkhead"] = "timeout"
    assert error(document) == ("workload.classes.order.bulkhead", "names no bulkhead policy")


def test_a_class_with_a_bad_name_names_the_class() -> None:
    document = doc()
    document["workload"]["classes"]["Big Order"] = {"steps": []}
    assert error(document) == ("workload.classes.Big Order", NAME_RULE)


def test_a_link_class_must_name_a_request_class() -> None:
    document = doc()
    document["links"][0]["classes"] = ["order", "refund"]
    assert error(document) == ("links.shop-stock.classes", "'refund' names no request class; classes are order")


def test_a_select_param_offers_every_class_and_the_together_value() -> None:
    document = doc()
    document["workload"]["classes"]["refund"] = {"steps": [{"send": "q.mail"}]}
    document["workload"]["select"] = {"param": "mode", "default": "refund", "together": "both"}
    param = parse_topology(document).schema.by_name["mode"]
    assert (param.kind, param.default, param.choices) == ("choice", "refund", ("order", "refund", "both"))


def test_a_select_default_must_be_one_of_the_choices() -> None:
    document = doc()
    document["workload"]["select"] = {"param": "mode", "default": "refund"}
    assert error(document) == ("workload.select.default", "must be one of order")


def test_weights_name_request_classes_and_float_parameters() -> None:
    document = doc(
        parameters=[
            {"name": "order_share", "type": "float", "default": 1, "label": "Orders", "minimum": 0, "maximum": 1}
        ]
    )
    document["workload"]["select"] = {"weights": {"order": "order_share"}}
    assert parse_topology(document).workload.weights == {"order": "order_share"}
    document["workload"]["select"] = {"weights": {"refund": "order_share", "order": "share"}}
    assert errors(document) == {
        "workload.select.weights.refund": "names no request class; classes are order",
        "workload.select.weights.order": "'share' names no float parameter",
    }


# Parameters


def parameter(**spec: Any) -> dict[str, Any]:
    return {"name": "share", "type": "float", "default": 0.5, "label": "Share", "minimum": 0, "maximum": 1} | spec


def test_a_declared_parameter_joins_the_schema() -> None:
    param = parse_topology(doc(parameters=[parameter(unit="fraction")])).schema.by_name["share"]
    assert (param.kind, param.default, param.minimum, param.maximum, param.unit) == ("float", 0.5, 0, 1, "fraction")


def test_a_number_parameter_needs_a_range() -> None:
    spec = parameter()
    del spec["maximum"]
    assert error(doc(parameters=[spec])) == (
        "parameters[0].maximum",
        "is required for a float parameter and must be a number",
    )


def test_a_choice_parameter_needs_choices() -> None:
    assert error(doc(parameters=[parameter(type="choice", default="a")])) == (
        "parameters[0].choices",
        "list at least one choice",
    )


def test_a_parameter_default_must_fit_its_own_range() -> None:
    assert error(doc(parameters=[parameter(default=2)])) == (
        "parameters[0].default",
        "must be a number from 0 to 1, got 2",
    )


def test_a_parameter_type_must_be_known() -> None:
    assert error(doc(parameters=[parameter(type="text")])) == (
        "parameters[0].type",
        "must be one of int, float, bool, choice, got 'text'",
    )


def test_a_parameter_name_may_be_declared_once() -> None:
    assert error(doc(parameters=[parameter(name="rate")])) == (
        "parameters[0].name",
        "parameter 'rate' is already declared",
    )
    document = doc()
    document["services"]["mail"]["work_param"] = "stock_ms"
    assert error(document) == ("services.mail.work_param", "parameter 'stock_ms' is already declared")


# Presets


def preset(**spec: Any) -> dict[str, Any]:
    return {"slug": "storm", "title": "Storm"} | spec


def test_a_preset_config_value_out_of_range_names_the_preset_and_the_parameter() -> None:
    assert error(doc(presets=[preset(config={"rate": 99})])) == (
        "presets.storm.config.rate",
        "must be a number from 0.5 to 50 requests/s, got 99",
    )


def test_a_preset_config_value_for_a_generated_parameter_is_checked_too() -> None:
    assert errors(doc(presets=[preset(config={"stock.error_rate": 2, "timeout.ms": 5, "shop_pool": 0})])) == {
        "presets.storm.config.stock.error_rate": "must be a number from 0 to 1 fraction, got 2",
        "presets.storm.config.timeout.ms": "must be a number from 10 to 30000 ms, got 5",
        "presets.storm.config.shop_pool": "must be a whole number from 1 to 200 threads, got 0",
    }


def test_a_preset_config_naming_no_parameter_is_refused() -> None:
    assert error(doc(presets=[preset(config={"mail.down": True})])) == (
        "presets.storm.config.mail.down",
        "unknown parameter; see GET /lab/api/experiments for the names",
    )


def test_a_script_may_set_only_live_parameters() -> None:
    script = [{"at": 3, "set": {"stock.down": True}}, {"at": 5, "set": {"rate": 10}}]
    assert error(doc(presets=[preset(script=script)])) == (
        "presets.storm.script[1].set.rate",
        "is fixed when the run starts and cannot be toggled",
    )


def test_a_script_step_runs_within_the_longest_run() -> None:
    assert error(doc(presets=[preset(script=[{"at": 301, "set": {}}])])) == (
        "presets.storm.script[0].at",
        "must be a number from 0 to 300, got 301",
    )


def test_a_preset_script_becomes_timed_toggles() -> None:
    script = [{"at": 3, "set": {"stock.down": True}}, {"at": 8, "set": {"stock.down": False}}]
    found = parse_topology(doc(presets=[preset(script=script)])).preset("storm")
    assert found is not None
    assert [(s.at, s.values) for s in found.script] == [(3.0, {"stock.down": True}), (8.0, {"stock.down": False})]


def test_a_preset_needs_a_slug_and_a_title() -> None:
    assert errors(doc(presets=[{"config": {}}])) == {"presets[0].slug": NAME_RULE, "presets.0.title": "is required"}


def test_a_preset_slug_may_be_used_once() -> None:
    assert error(doc(presets=[preset(), preset(title="Again")])) == (
        "presets[1].slug",
        "is already used by another preset",
    )


def test_default_preset_naming_no_preset_lists_the_presets() -> None:
    assert error(doc(default_preset="storm")) == ("default_preset", "names no preset; one of calm")


def test_default_preset_in_a_document_without_presets_says_there_are_none() -> None:
    assert error(doc(presets=[], default_preset="storm")) == ("default_preset", "names no preset; there are none")


def test_without_default_preset_the_first_preset_is_the_default() -> None:
    assert parse_topology(doc(presets=[preset(), preset(slug="calm")])).default_preset == "storm"


# Invariants and view


def test_an_unknown_invariant_kind_lists_the_kinds() -> None:
    assert error(doc(invariants=[{"kind": "exactly_twice"}])) == (
        "invariants[0].kind",
        f"must be one of {', '.join(INVARIANT_KINDS)}, got 'exactly_twice'",
    )


def test_a_view_chart_target_naming_no_service_lists_the_services() -> None:
    assert error(doc(view={"charts": [{"kind": "latency"}, {"kind": "arrivals", "target": "inventory"}]})) == (
        "view.charts[1].target",
        f"names no service; services are {SERVICES}",
    )


def test_a_retry_waves_chart_needs_the_service_whose_outage_it_is_aligned_to() -> None:
    assert error(doc(view={"charts": [{"kind": "retry_waves"}]})) == (
        "view.charts[0].target",
        "is required: the service whose outage (its .down switched on) the retry waves are aligned to",
    )


def test_a_bucket_chart_refuses_a_bucket_outside_10_to_1000_ms_and_defaults_to_its_own() -> None:
    assert error(doc(view={"charts": [{"kind": "retry_waves", "target": "stock", "bucket_ms": 5}]})) == (
        "view.charts[0].bucket_ms",
        "must be a whole number from 10 to 1000, got 5",
    )
    charts = parse_topology(doc(view={"charts": [{"kind": "retry_waves", "target": "stock"}]})).view["charts"]
    assert charts == [{"kind": "retry_waves", "target": "stock", "bucket_ms": 50}]


def test_an_unknown_chart_kind_lists_the_kinds() -> None:
    assert error(doc(view={"charts": [{"kind": "pie"}]})) == (
        "view.charts[0].kind",
        f"must be one of {', '.join(CHART_KINDS)}, got 'pie'",
    )


def test_view_spec_derives_charts_when_a_document_gives_none() -> None:
    document = doc()
    document["policies"]["guard"] = {"kind": "breaker"}
    document["links"][0]["breaker"] = "guard"
    spec = view_spec(parse_topology(document))
    assert spec["charts"] == [
        {"kind": "latency"},
        {"kind": "throughput"},
        {"kind": "queue_depth", "series": ["q.mail"]},
        {"kind": "pool_usage", "series": ["shop"]},
        {"kind": "histogram"},
        {"kind": "breaker_lane", "target": "stock"},
    ]
    assert (spec["entry"], spec["groups"], spec["class_param"]) == ("shop", ["order"], None)


def test_view_spec_fills_in_the_series_a_chart_leaves_out() -> None:
    document = doc(view={"charts": [{"kind": "queue_depth"}, {"kind": "pool_usage", "series": ["shop"]}]})
    assert view_spec(parse_topology(document))["charts"] == [
        {"kind": "queue_depth", "series": ["q.mail"]},
        {"kind": "pool_usage", "series": ["shop"]},
    ]


def test_view_spec_without_queues_or_pools_shows_only_the_request_charts() -> None:
    document = doc()
    document["services"]["shop"].pop("pool")
    document["links"].pop()
    document["workload"]["classes"]["order"]["steps"].pop()
    charts = view_spec(parse_topology(document))["charts"]
    assert charts == [{"kind": "latency"}, {"kind": "throughput"}, {"kind": "histogram"}]


# The built-in experiments


def fault_params(service: str) -> list[tuple[Any, ...]]:
    return [
        (f"{service}.down", "bool", False, None, None),
        (f"{service}.latency_ms", "float", 0.0, 0, 10000),
        (f"{service}.jitter_ms", "float", 0.0, 0, 5000),
        (f"{service}.error_rate", "float", 0.0, 0, 1),
        (f"{service}.crash", "choice", "none", None, None),
        (f"{service}.drop_rate", "float", 0.0, 0, 1),
        (f"{service}.duplicate_rate", "float", 0.0, 0, 1),
        (f"{service}.reorder", "bool", False, None, None),
        (f"{service}.schedule", "choice", "always", None, None),
        (f"{service}.schedule_n", "int", 5, 1, 1000),
    ]


CHECKOUT_SERVICES = ("payment", "inventory", "email", "warehouse", "analytics")
# The checkout's knobs as the experiment listed them by hand before it became a document.
CHECKOUT_PARAMS: list[tuple[Any, ...]] = [
    ("duration", "int", 60, 5, 300),
    ("rate", "float", 5.0, 0.5, 50),
    ("seed", "int", 42, 0, 2**31 - 1),
    ("mode", "choice", "sync", None, None),
    ("payment_ms", "float", 400.0, 0, 5000),
    ("inventory_ms", "float", 200.0, 0, 5000),
    ("email_ms", "float", 800.0, 0, 5000),
    ("warehouse_ms", "float", 300.0, 0, 5000),
    ("analytics_ms", "float", 150.0, 0, 5000),
    *[row for service in CHECKOUT_SERVICES for row in fault_params(service)],
    ("timeout.enabled", "bool", False, None, None),
    ("timeout.ms", "float", 2000.0, 10, 30000),
    ("retry.enabled", "bool", True, None, None),
    ("retry.max_attempts", "int", 3, 1, 10),
    ("retry.delay_ms", "float", 200.0, 0, 10000),
    ("retry.backoff", "choice", "exponential", None, None),
    ("retry.multiplier", "float", 2.0, 1, 10),
    ("retry.jitter", "choice", "none", None, None),
    ("retry.max_delay_ms", "float", 5000.0, 0, 60000),
    ("consumer.idempotent", "bool", True, None, None),
    ("consumer.key", "choice", "message_id", None, None),
    ("consumer.ttl_ms", "float", 0.0, 0, 600000),
]


def test_the_checkout_schema_generated_from_its_document_has_the_knobs_it_always_had() -> None:
    schema = EXPERIMENTS["checkout"].schema
    assert [(p.name, p.kind, p.default, p.minimum, p.maximum) for p in schema.params] == CHECKOUT_PARAMS
    assert schema.by_name["mode"].choices == ("sync", "hybrid", "side_by_side")
    assert {p.name for p in schema.params if p.live} == {
        name for name, *_ in CHECKOUT_PARAMS if "." in name
    }  # faults and policies are live toggles; run settings and service times are fixed at start


def test_every_checkout_preset_sets_only_parameters_of_its_schema_within_their_ranges() -> None:
    experiment = EXPERIMENTS["checkout"]
    for item in experiment.presets:
        assert set(item.config) <= set(experiment.schema.by_name)
        assert experiment.schema.validate(item.config) == item.config
        for step in item.script:
            experiment.schema.validate(step.values, prefix="", live_only=True)


def test_the_cascade_diagram_has_a_node_per_service_and_edges_only_between_its_nodes() -> None:
    experiment = EXPERIMENTS["cascade"]
    graph = diagram(experiment.topology)
    ids = [node["id"] for node in graph["nodes"]]
    assert len(ids) == len(set(ids))
    assert set(experiment.topology.services) <= set(ids)
    assert all(edge["from"] in ids and edge["to"] in ids for edge in graph["edges"])
    assert {(e["from"], e["to"]) for e in graph["edges"]} == {
        ("client", "gateway"),
        ("gateway", "browse"),
        ("gateway", "orders"),
        ("orders", "inventory"),
    }
    inventory = next(node for node in graph["nodes"] if node["id"] == "inventory")
    assert (inventory["pool_param"], inventory["breaker_param"]) == ("inventory_pool", "breaker.enabled")


def test_a_topic_is_drawn_with_a_box_per_subscription() -> None:
    document = with_links(topic({"id": "news.mail", "to": "mail"}, {"id": "news.stock", "to": "stock"}))
    graph = diagram(parse_topology(document))
    assert {"news", "news.mail", "news.stock", "dlq"} <= {node["id"] for node in graph["nodes"]}
    assert {("shop", "news"), ("news", "news.mail"), ("news.mail", "mail"), ("news.stock", "stock")} <= {
        (e["from"], e["to"]) for e in graph["edges"]
    }


# Options the constructs read: a kind left out, sagas, aggregates, stream sends, projections and outboxes

BOOLS = "retry.enabled, stock.down, stock.reorder, timeout.enabled"


def test_a_link_without_a_kind_is_told_the_kinds_instead_of_becoming_a_call() -> None:
    document = doc()
    del document["links"][1]["kind"]
    assert error(document) == ("links.q.mail.kind", "is required; one of call, queue, topic, stream, reply")


def test_a_policy_without_a_kind_is_told_the_kinds_instead_of_becoming_a_timeout() -> None:
    document = doc()
    del document["policies"]["timeout"]["kind"]
    assert error(document) == (
        "policies.timeout.kind",
        "is required; one of timeout, retry, breaker, bulkhead, idempotency",
    )


def saga(**options: Any) -> dict[str, Any]:
    return {"saga": {"steps": [{"call": "shop-stock", "compensate": {"send": "q.mail"}}], **options}}


def test_a_saga_retry_must_name_a_retry_policy() -> None:
    assert parse_topology(with_class_steps(saga(retry="retry")))
    assert error(with_class_steps(saga(retry="timeout"))) == (
        "workload.classes.order.steps[0].saga.retry",
        "names no retry policy; retry policies are retry",
    )


def test_a_saga_compensations_switch_must_name_a_bool_parameter() -> None:
    assert parse_topology(with_class_steps(saga(compensations="stock.down")))
    assert error(with_class_steps(saga(compensations="shop_pool"))) == (
        "workload.classes.order.steps[0].saga.compensations",
        f"names no bool parameter; bool parameters are {BOOLS}",
    )


def undoing(name: str) -> dict[str, Any]:
    """Mail runs its own saga 'notify' for every message and an undo of saga `name` on 'order.failed'."""
    document = doc()
    document["services"]["mail"]["steps"] = [{"saga": {"name": "notify", "steps": [{"work": 1}]}}]
    document["services"]["mail"]["on"] = {"order.failed": [{"saga": {"name": name, "undo": True}}]}
    return document


def test_an_undo_must_name_a_saga_of_its_own_service() -> None:
    assert parse_topology(undoing("notify"))
    assert error(undoing("payment")) == (
        "services.mail.on.order.failed[0].saga.name",
        "names no saga of mail; its sagas are notify (undo compensates the service's own saga of that name)",
    )


def test_an_undo_is_true_or_false() -> None:
    document = undoing("notify")
    document["services"]["mail"]["on"]["order.failed"][0]["saga"]["undo"] = "yes"
    assert error(document) == ("services.mail.on.order.failed[0].saga.undo", "must be true or false, got 'yes'")


def aggregate(**options: Any) -> dict[str, Any]:
    return {"aggregate": {"events": ["paid", "reserved"], "then": [{"work": 1}], **options}}


def test_aggregate_events_are_routing_keys_in_text() -> None:
    assert parse_topology(with_class_steps(aggregate(by="order_id", timeout_ms=1500)))
    assert error(with_class_steps(aggregate(events=["paid", 7]))) == (
        "workload.classes.order.steps[0].aggregate.events[1]",
        "must be text (a routing key), got 7",
    )


def test_aggregate_by_is_a_field_name_in_text() -> None:
    assert error(with_class_steps(aggregate(by=["order_id"]))) == (
        "workload.classes.order.steps[0].aggregate.by",
        "must be text (a body or envelope field), got ['order_id']",
    )


def test_aggregate_timeout_ms_is_up_to_a_minute() -> None:
    assert error(with_class_steps(aggregate(timeout_ms=60_001))) == (
        "workload.classes.order.steps[0].aggregate.timeout_ms",
        "must be a number from 0 to 60000, got 60001",
    )


def stream_send(**options: Any) -> dict[str, Any]:
    document = with_links(stream())
    document["workload"]["classes"]["order"]["steps"] = [{"send": "log", **options}]
    return document


def test_a_stream_send_with_its_event_and_a_read_of_a_group_is_valid() -> None:
    options = {"event": "paid", "body": {"status": "paid"}, "read": "g", "read_your_writes": "stock.down"}
    assert parse_topology(stream_send(**options, read_wait_ms=2000))
    assert parse_topology(stream_send(read="g", read_your_writes=True))


def test_a_stream_send_event_is_text() -> None:
    assert error(stream_send(event=3)) == (
        "workload.classes.order.steps[0].event",
        "must be text (the event's name), got 3",
    )


def test_a_send_body_is_a_mapping() -> None:
    assert error(stream_send(body=["status", "paid"])) == (
        "workload.classes.order.steps[0].body",
        "must be a mapping of fields, got list",
    )


def test_a_read_must_name_a_consumer_group_of_the_stream() -> None:
    assert error(stream_send(read="nobody")) == (
        "workload.classes.order.steps[0].read",
        "names no consumer group of 'log'; its groups are g",
    )


def test_read_wait_ms_is_up_to_a_minute() -> None:
    assert error(stream_send(read="g", read_wait_ms=-1)) == (
        "workload.classes.order.steps[0].read_wait_ms",
        "must be a number from 0 to 60000, got -1",
    )


def test_read_after_ms_is_up_to_a_minute_and_needs_read() -> None:
    assert parse_topology(stream_send(read="g", read_after_ms=100))
    assert error(stream_send(read="g", read_after_ms=60001)) == (
        "workload.classes.order.steps[0].read_after_ms",
        "must be a number from 0 to 60000, got 60001",
    )
    assert error(stream_send(read_after_ms=100)) == (
        "workload.classes.order.steps[0].read_after_ms",
        "needs read: <consumer group> to say which read model to query",
    )


def test_only_a_group_whose_consumer_projects_the_stream_gets_a_rebuild_switch() -> None:
    names = {p.name for p in parse_topology(stream_send()).schema.params}
    assert "log.g.rebuild" not in names
    document = stream_send()
    consumer = next(link["to"] for link in document["links"] if link["id"] == "log")
    document["services"][consumer]["steps"] = [{"project": "log"}]
    rebuild = parse_topology(document).schema.by_name["log.g.rebuild"]
    assert (rebuild.kind, rebuild.default, rebuild.live) == ("bool", False, True)


def test_read_your_writes_is_a_bool_or_a_bool_parameter() -> None:
    assert error(stream_send(read="g", read_your_writes="stock_ms")) == (
        "workload.classes.order.steps[0].read_your_writes",
        "must be true, false or the name of a bool parameter; bool parameters are log.g.resequence, log.g.rewind,"
        f" {BOOLS}",
    )


def test_read_options_need_read() -> None:
    assert error(stream_send(read_wait_ms=100)) == (
        "workload.classes.order.steps[0].read_wait_ms",
        "needs read: <consumer group> to say which read model to query",
    )


def test_a_read_belongs_to_a_send_over_a_stream() -> None:
    assert error(with_class_steps({"send": "q.mail", "read": "g"})) == (
        "workload.classes.order.steps[0].read",
        "reads a stream's read model: only for a send over a stream link",
    )


def test_project_check_version_is_true_or_false() -> None:
    document = with_links(stream())
    document["services"]["mail"]["steps"] = [{"project": "log", "check_version": False}]
    assert parse_topology(document)
    document["services"]["mail"]["steps"] = [{"project": "log", "check_version": "no"}]
    assert error(document) == ("services.mail.steps[0].check_version", "must be true or false, got 'no'")


def test_an_outbox_mode_is_outbox_dual_write_or_publish_then_save() -> None:
    assert parse_topology(with_class_steps({"outbox": "q.mail", "mode": "dual_write", "table": "orders"}))
    assert error(with_class_steps({"outbox": "q.mail", "mode": "two_phase"})) == (
        "workload.classes.order.steps[0].mode",
        "must be one of outbox, dual_write, publish_then_save, got 'two_phase'",
    )


def test_an_outbox_mode_param_names_a_choice_of_the_modes() -> None:
    document = with_class_steps({"outbox": "q.mail", "mode_param": "publish_mode"})
    choice = {"name": "publish_mode", "type": "choice", "default": "outbox", "label": "Mode"}
    document["parameters"] = [{**choice, "choices": ["outbox", "dual_write"]}]
    assert parse_topology(document)
    document["parameters"] = [{**choice, "choices": ["outbox", "two_phase"]}]
    assert error(document) == (
        "workload.classes.order.steps[0].mode_param",
        "names no choice parameter with choices among outbox, dual_write, publish_then_save",
    )


def test_a_send_picks_round_robin_or_key_partitioning_only_over_a_stream_that_allows_it() -> None:
    stream = {"id": "log", "kind": "stream", "from": "shop", "to": "stock", "groups": [{"id": "g", "to": "stock"}]}
    document = with_links(stream)
    document["workload"]["classes"]["order"]["steps"] = [
        {"send": "log", "partition_by": "key"},
        {"send": "q.mail", "partition_by": "round_robin"},
    ]
    assert errors(document) == {
        "workload.classes.order.steps[0].partition_by": (
            "must be one of round_robin (stream 'log' has no key), got 'key'"
        ),
        "workload.classes.order.steps[1].partition_by": "picks a stream partition: only for a send over a stream link",
    }


def test_every_stream_gets_a_partitions_knob_fixed_when_the_run_starts() -> None:
    stream = {"id": "log", "kind": "stream", "from": "shop", "to": "stock", "partitions": 3}
    topology = parse_topology(with_links({**stream, "groups": [{"id": "g", "to": "stock"}]}))
    knob = topology.schema.by_name["log.partitions"]
    assert (knob.default, knob.minimum, knob.maximum, knob.live) == (3, 1, 8, False)
    assert view_spec(topology)["streams"] == [
        {"link": "log", "label": "log", "partitions_param": "log.partitions", "groups": [{"id": "g", "to": "stock"}]}
    ]


def test_a_streams_box_feeds_the_service_of_every_consumer_group() -> None:
    groups = [{"id": "g", "to": "stock"}, {"id": "h", "to": "mail"}]
    stream = {"id": "log", "kind": "stream", "from": "shop", "to": "stock", "groups": groups}
    edges = diagram(parse_topology(with_links(stream)))["edges"]
    assert [e["to"] for e in edges if e["from"] == "log"] == ["stock", "mail"]
