"""The lab's JSON API. Thin: parse, call a service or selector, shape the answer."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from comms_lab.http import (
    BadRequest,
    check_toggle_shape,
    client_address,
    json_error,
    optional_object,
    optional_str,
    read_json_object,
    redrive_request,
    sequence_number,
)
from comms_lab.learners import learner_for
from lab import predictions, selectors, services
from lab.model.events import contract_json
from lab.model.experiments import EXPERIMENTS
from lab.model.schema import ConfigError
from lab.model.topology_schema import TOPOLOGY_JSON_SCHEMA
from lab.models import Run

ALLOWED_RUN_FIELDS = {"experiment", "preset", "config", "topology"}


@require_GET
def experiments(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"experiments": [e.as_json() for e in EXPERIMENTS.values()]})


@require_GET
def topology_schema(request: HttpRequest) -> JsonResponse:
    """The JSON Schema of topology documents, for editors and for learners writing their own designs."""
    return JsonResponse(TOPOLOGY_JSON_SCHEMA)


@require_GET
def events_contract(request: HttpRequest) -> JsonResponse:
    """Every run event type with its meaning and fields (lab/model/events.py), as the lab page's log explains them."""
    return JsonResponse({"events": contract_json()})


def runs(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        learner = learner_for(request)
        return JsonResponse({"runs": [selectors.run_as_json(r, can_control=True) for r in selectors.runs_of(learner)]})
    if request.method != "POST":
        return json_error(405, "use GET to list your runs or POST to start one")
    try:
        data = read_json_object(request)
        unknown = sorted(set(data) - ALLOWED_RUN_FIELDS)
        if unknown:
            allowed = "experiment, preset, config, topology"
            raise BadRequest({name: f"unknown field; allowed: {allowed}" for name in unknown})
        topology = data.get("topology")
        if topology is not None and not isinstance(topology, dict):
            raise BadRequest(
                {"topology": "must be a topology document (a JSON object); see GET /lab/api/topology-schema"}
            )
        run = services.start_run(
            learner=learner_for(request),
            experiment=optional_str(data, "experiment"),
            preset=optional_str(data, "preset"),
            config=optional_object(data, "config"),
            topology=topology,
            address=client_address(request),
        )
    except BadRequest as exc:
        return json_error(400, str(exc), fields=exc.fields)
    except ConfigError as exc:
        return json_error(400, str(exc), fields=exc.errors)
    except services.AdmissionError as exc:
        response = json_error(429, str(exc), retry_after_s=exc.retry_after_s)
        response["Retry-After"] = str(exc.retry_after_s)
        return response
    return JsonResponse(selectors.run_as_json(run, can_control=True), status=201)


def _access(request: HttpRequest, run_id: str) -> tuple[Run, bool] | None:
    access = selectors.run_access(run_id, learner_for(request), request.GET.get("share"))
    return None if access is None else (services.close_if_abandoned(access[0]), access[1])


@require_GET
def run_detail(request: HttpRequest, run_id: str) -> JsonResponse:
    access = _access(request, run_id)
    if access is None:
        return json_error(404, f"no run {run_id} that you can see")
    run, can_control = access
    return JsonResponse(selectors.run_as_json(run, can_control=can_control))


@require_GET
def run_events(request: HttpRequest, run_id: str) -> JsonResponse:
    access = _access(request, run_id)
    if access is None:
        return json_error(404, f"no run {run_id} that you can see")
    try:
        after = sequence_number(request.GET.get("after", "0"))
    except BadRequest as exc:
        return json_error(400, str(exc), fields=exc.fields)
    return JsonResponse({"events": selectors.events_after(access[0], after, limit=5000)})


@require_GET
def run_state_at(request: HttpRequest, run_id: str) -> JsonResponse:
    """`?link=&key=&version=`: a key's state at a version, folded from the run's log."""
    access = _access(request, run_id)
    if access is None:
        return json_error(404, f"no run {run_id} that you can see")
    try:
        answer = selectors.state_at_version(
            access[0],
            link=request.GET.get("link", ""),
            key=request.GET.get("key", ""),
            version=request.GET.get("version", ""),
        )
    except BadRequest as exc:
        return json_error(400, str(exc), fields=exc.fields)
    return JsonResponse(answer)


def _controlled_run(request: HttpRequest, run_id: str, action: str) -> Run | JsonResponse:
    """The run if this learner owns it; otherwise the 404 or 403 to answer with."""
    access = _access(request, run_id)
    if access is None:
        return json_error(404, f"no run {run_id} that you can see")
    run, can_control = access
    if not can_control:
        return json_error(403, f"only the run's owner can {action} it; this link is read-only")
    return run


@require_POST
def run_toggles(request: HttpRequest, run_id: str) -> JsonResponse:
    run = _controlled_run(request, run_id, "change")
    if isinstance(run, JsonResponse):
        return run
    try:
        data = read_json_object(request)
        check_toggle_shape(data)
        values = services.toggle_values(data)
        logged = services.apply_toggles(run, values, by="learner")
    except BadRequest as exc:
        return json_error(400, str(exc), fields=exc.fields)
    except ConfigError as exc:
        return json_error(409 if "run" in exc.errors else 400, str(exc), fields=exc.errors)
    return JsonResponse({"applied": logged[0]["values"], "seq": logged[0]["seq"]})


@require_POST
def run_stop(request: HttpRequest, run_id: str) -> JsonResponse:
    run = _controlled_run(request, run_id, "stop")
    if isinstance(run, JsonResponse):
        return run
    services.request_stop(run)
    return JsonResponse({"status": "stopping"}, status=202)


def run_dead_letters(request: HttpRequest, run_id: str) -> JsonResponse:
    """GET: the messages in the run's dead-letter queue. POST: re-drive them, `{"queue"?, "message_ids"?}`."""
    if request.method == "GET":
        access = _access(request, run_id)
        if access is None:
            return json_error(404, f"no run {run_id} that you can see")
        return JsonResponse({"dead_letters": selectors.dead_letters(access[0])})
    if request.method != "POST":
        return json_error(405, "use GET to list the dead letters or POST to re-drive them")
    run = _controlled_run(request, run_id, "re-drive")
    if isinstance(run, JsonResponse):
        return run
    try:
        data = read_json_object(request)
        message_ids = redrive_request(data)
        moved = services.redrive_dead_letters(run, queue=optional_str(data, "queue"), message_ids=message_ids)
    except BadRequest as exc:
        return json_error(400, str(exc), fields=exc.fields)
    except ConfigError as exc:
        return json_error(409 if "run" in exc.errors else 400, str(exc), fields=exc.errors)
    return JsonResponse({"redriven": [e["message_id"] for e in moved]})


def prediction_list(request: HttpRequest) -> JsonResponse:
    """POST a prediction for a preset before running it; GET your predictions of one preset, latest first, and the
    question's answers once you have run the preset."""
    if request.method == "POST":
        try:
            made = predictions.record(learner=learner_for(request), data=read_json_object(request))
        except BadRequest as exc:
            return json_error(400, str(exc), fields=exc.fields)
        return JsonResponse(predictions.as_json(made), status=201)
    if request.method != "GET":
        return json_error(405, "use POST to make a prediction or GET to list yours")
    experiment, preset = request.GET.get("experiment", ""), request.GET.get("preset", "")
    try:
        predictions.checked_preset(experiment, preset)
    except BadRequest as exc:
        return json_error(400, str(exc), fields=exc.fields)
    learner = learner_for(request)
    found = predictions.predictions_of(learner, experiment=experiment, preset=preset)
    answers = predictions.answers_once_run(learner, experiment=experiment, preset=preset)
    return JsonResponse({"predictions": [predictions.as_json(p) for p in found], "answers": answers})
