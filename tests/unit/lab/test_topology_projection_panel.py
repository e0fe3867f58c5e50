"""The projection panel (`view.panels` kind `projection`): which streams it may show and what the page gets."""

from __future__ import annotations

from typing import Any

from lab.model.topology import parse_topology, view_spec
from tests.unit.lab.test_topology import doc, error, stream, with_links


def projected(**view: Any) -> dict[str, Any]:
    """A stream `log` read by `mail` (projecting, no version check) and by `stock` (only consuming)."""
    document = with_links(
        stream(label="order log", partitions=3, groups=[{"id": "g", "to": "mail"}, {"id": "audit", "to": "stock"}]),
        view=view,
    )
    document["services"]["mail"]["label"] = "Mail projector"
    document["services"]["mail"]["steps"] = [{"project": "log", "check_version": False}]
    return document


def test_a_projection_panel_gets_only_the_streams_projecting_groups() -> None:
    document = projected(panels=[{"kind": "projection", "link": "log"}])
    assert view_spec(parse_topology(document))["panels"] == [
        {
            "kind": "projection",
            "link": "log",
            "label": "order log",
            "groups": [
                {"id": "g", "label": "Mail projector", "rebuild_param": "log.g.rebuild", "checks_version": False}
            ],
        }
    ]


def test_a_projection_panel_must_name_a_stream_that_a_group_projects() -> None:
    assert error(projected(panels=[{"kind": "projection", "link": "q.mail"}])) == (
        "view.panels[0].link",
        "names no stream with a projecting consumer group; such streams are log",
    )
    assert error(doc(view={"panels": [{"kind": "projection", "link": "q.mail"}]})) == (
        "view.panels[0].link",
        "names no stream with a projecting consumer group; such streams are none",
    )


def test_a_projection_panel_takes_only_its_kind_and_link() -> None:
    assert error(projected(panels=[{"kind": "projection", "link": "log", "rows": 5}])) == (
        "view.panels[0].rows",
        "unknown field; allowed: kind, link",
    )
