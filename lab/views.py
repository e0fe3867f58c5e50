"""Lab pages. The page itself is static HTML plus lab.js; live data arrives over the run websocket."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from comms_lab.learners import learner_for
from lab import selectors, services
from lab.model.events import contract_json
from lab.model.experiments import DEFAULT_EXPERIMENT, EXPERIMENTS


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    learner = learner_for(request)
    return render(
        request,
        "lab/index.html",
        {
            "experiments": EXPERIMENTS.values(),
            "default": EXPERIMENTS[DEFAULT_EXPERIMENT],
            "runs": selectors.runs_of(learner),
        },
    )


@ensure_csrf_cookie
def experiment_page(request: HttpRequest, slug: str) -> HttpResponse:
    experiment = EXPERIMENTS.get(slug)
    if experiment is None:
        raise Http404(f"No experiment {slug!r}")
    learner_for(request)
    preset = experiment.preset(request.GET.get("preset", "")) or experiment.preset(experiment.default_preset)
    return render(
        request,
        "lab/experiment.html",
        {"experiment": experiment, "preset": preset, "run": None, "event_contract": contract_json()},
    )


@ensure_csrf_cookie
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    access = selectors.run_access(run_id, learner_for(request), request.GET.get("share"))
    if access is None:
        raise Http404("No run you can see here")
    run, can_control = access
    run = services.close_if_abandoned(run)
    experiment = services.experiment_for(run)
    return render(
        request,
        "lab/experiment.html",
        {
            "experiment": experiment,
            "preset": experiment.preset(run.preset),
            "run": selectors.run_as_json(run, can_control=can_control),
            "event_contract": contract_json(),
        },
    )
