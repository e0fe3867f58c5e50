"""Each bad input the reliability review found (a 500 or a crashed websocket handler before) now gets a 400,
or an error frame, naming the field, and the socket stays open."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection

from comms_lab.http import MAX_WS_FRAME_BYTES
from quizzes.banks import catalogue
from quizzes.grading import AnswerError, parse_order
from tests.fuzz.conftest import Site, reply_to

pytestmark = pytest.mark.integration
DEEP = "[" * 50000 + "]" * 50000


def test_deeply_nested_json_is_refused_by_every_json_endpoint(site: Site) -> None:
    for path in ("/lab/api/runs", f"/lab/api/runs/{site.run['id']}/toggles"):
        for body in (DEEP, '{"config": ' + '{"a":' * 2000 + "1" + "}" * 2000 + "}", "[" * 40 + "]" * 40):
            response = site.client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 400, (path, response.text[:200])
            assert response.json()["fields"] == {"body": "is nested too deeply (at most 32 levels)"}


def test_a_toggle_whose_name_is_not_a_string_names_the_field(site: Site) -> None:
    for name, kind in ((["a"], "a list"), ({"a": 1}, "an object"), (7, "a number")):
        response = site.client.post(f"/lab/api/runs/{site.run['id']}/toggles", json={"name": name, "value": 1})
        assert response.status_code == 400
        assert response.json()["fields"] == {"name": f"must be a parameter name (a string), got {kind}"}


@pytest.mark.parametrize("after", ["18446744073709551616", "99999999999999999999", "9223372036854775808", "-1", "²"])
def test_events_after_a_number_out_of_range_is_a_400_naming_after(site: Site, after: str) -> None:
    response = site.client.get(f"/lab/api/runs/{site.run['id']}/events", params={"after": after})
    assert response.status_code == 400
    assert response.json()["fields"] == {"after": "must be a whole number from 0 to 9223372036854775807"}
    assert site.client.get(f"/lab/api/runs/{site.run['id']}/events?after=9223372036854775807").json() == {"events": []}


def test_bad_websocket_frames_get_error_frames_and_the_socket_stays_open(site: Site) -> None:
    with site.ws() as socket:
        (deep,) = reply_to(socket, "[" * 30000 + "]" * 30000)
        assert deep == {"type": "error", "error": "frame is nested too deeply (at most 32 levels)", "code": 400}
        (big,) = reply_to(socket, '{"type":"ping","pad":"' + "x" * MAX_WS_FRAME_BYTES + '"}')
        assert big["code"] == 400 and "the limit is 65,536 bytes (64 KiB)" in big["error"]
        (name,) = reply_to(socket, '{"type":"toggle","name":{"a":1},"value":1}')
        assert name["fields"] == {"name": "must be a parameter name (a string), got an object"}
        (replay,) = reply_to(socket, '{"type":"replay","after":18446744073709551616}')
        assert replay["fields"] == {"after": "must be a whole number from 0 to 9223372036854775807"}
        (binary,) = reply_to(socket, b"\xff\xfe")
        assert binary == {"type": "error", "error": "frame is not valid JSON", "code": 400}


def test_a_frame_over_the_servers_one_mebibyte_limit_is_closed_with_code_1009_and_the_limit_as_reason(
    site: Site,
) -> None:
    with site.ws() as socket:
        socket.send('{"type":"ping","pad":"' + "x" * 2**21 + '"}')
        with pytest.raises(ConnectionClosedError) as closed:
            _read_until_closed(socket)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert "exceeds payload limit of 1048576 octets" in closed.value.rcvd.reason


def _read_until_closed(socket: ClientConnection) -> None:
    while True:
        socket.recv(timeout=10)


def test_an_ordering_answer_with_superscript_or_other_unicode_digits_is_refused_naming_the_item() -> None:
    question = next(q for q in catalogue().questions.values() if q.type == "ordering")
    first = question.items[0].id
    for bad in ("²", "٣", "１", "1e0", " ", "0x1", "1" * 5000):
        form = {f"pos-{item.id}": [str(n)] for n, item in enumerate(question.items, 1)} | {f"pos-{first}": [bad]}
        with pytest.raises(AnswerError) as refused:
            parse_order(question, form)
        assert refused.value.field == f"pos-{first}"


def test_a_superscript_position_posted_to_a_real_attempt_is_a_400_not_a_500(site: Site) -> None:
    page = site.client.get(site.attempt_url + "/")
    assert page.status_code == 200
    for question in catalogue().banks["async-styles"].questions:
        form = {"question": question.id, "step": "answer", **{f"pos-{i.id}": "²" for i in question.items or []}}
        response = site.client.post(site.attempt_url + "/answer", data=form, headers={"HX-Request": "true"})
        assert response.status_code < 500, response.text[:300]
