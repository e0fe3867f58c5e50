"""Lab pages. The page itself is static HTML plus lab.js; live data arrives over the run websocket."""

import functools

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import json_script
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.csrf import ensure_csrf_cookie

from comms_lab.learners import current_learner
from lab import selectors, services
from lab.model.events import contract_json
from lab.model.experiments import DEFAULT_EXPERIMENT, EXPERIMENTS, Experiment


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    learner = current_learner(request)  # reading the list records nothing: a first visit writes no session
    return render(
        request,
        "lab/index.html",
        {
            "cards": experiment_cards(),
            "default": EXPERIMENTS[DEFAULT_EXPERIMENT],
            "runs": selectors.recent_runs(learner, limit=20, summaries=True) if learner.known else [],
        },
    )


@functools.cache
def experiment_cards() -> SafeString:
    """The experiments and their presets as the lab's index lists them: the same for everyone until the process
    restarts (experiments load with it), so rendered once rather than reversing ~80 URLs per view."""
    html = render_to_string("lab/_experiment_cards.html", {"experiments": EXPERIMENTS.values()})
    return mark_safe(html)  # noqa: S308  (our own template's output, autoescaped)


@ensure_csrf_cookie
def experiment_page(request: HttpRequest, slug: str) -> HttpResponse:
    experiment = EXPERIMENTS.get(slug)
    if experiment is None:
        raise Http404(f"No experiment {slug!r}")
    preset = experiment.preset(request.GET.get("preset", "")) or experiment.preset(experiment.default_preset)
    return render(
        request,
        "lab/experiment.html",
        {"experiment": experiment, "preset": preset, "run": None, "page_data": page_data(experiment)},
    )


@ensure_csrf_cookie
def run_page(request: HttpRequest, run_id: str) -> HttpResponse:
    access = selectors.run_access(run_id, current_learner(request), request.GET.get("share"))
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
            "page_data": page_data(experiment),
        },
    )


def page_data(experiment: Experiment) -> SafeString:
    """The experiment's document, parameters and view spec, and the event contract, as the page's JSON scripts:
    encoded once per built-in experiment (they load with the process), per view for a learner-made design."""
    if EXPERIMENTS.get(experiment.slug) is experiment:
        return _built_in_page_data(experiment.slug)
    return _page_data(experiment)


@functools.cache
def _built_in_page_data(slug: str) -> SafeString:
    return _page_data(EXPERIMENTS[slug])


def _page_data(experiment: Experiment) -> SafeString:
    return json_script(experiment.as_json(), "experiment-data") + json_script(contract_json(), "event-contract")
