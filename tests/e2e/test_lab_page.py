"""The lab page's modules in Chromium: drawn from the experiment JSON, a legend, faults opened on the diagram,
a virtualised keyboard-driven log, and a websocket that resumes after the last event it has."""

import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from playwright.sync_api import ConsoleMessage, Page, WebSocket, expect

from lab.model.events import EVENTS
from lab.model.experiments import EXPERIMENTS
from tests.support.axe import AXE_RUN
from tests.support.lab_page import start_run

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SKELETONS = ROOT / "lab" / "experiments" / "skeletons"


@pytest.fixture
def errors(page: Page) -> list[str]:
    """Console errors, Content-Security-Policy violations (the policy is enforced) and uncaught exceptions on
    the page; each test asserts there are none."""
    found: list[str] = []

    def console(msg: ConsoleMessage) -> None:
        if "Evaluating a string as JavaScript" in msg.text:
            return  # Playwright's own wait_for_function, not the page
        if msg.type == "error" or "Content Security Policy" in msg.text:
            found.append(msg.text)

    page.on("console", console)
    page.on("pageerror", lambda exc: found.append(str(exc)))
    return found


def start(page: Page, preset: str, *, duration: int, rate: float | None = None) -> None:
    page.goto(f"/lab/checkout/?preset={preset}")
    start_run(page, duration=duration, rate=rate)


@pytest.mark.parametrize("slug", ["checkout", "cascade"])
def test_the_page_is_drawn_from_the_experiment_json_with_a_legend_for_every_mark(
    page: Page, errors: list[str], slug: str
) -> None:
    page.goto(f"/lab/{slug}/")
    experiment = EXPERIMENTS[slug].as_json()
    for node in experiment["diagram"]["nodes"]:
        expect(page.locator(f'#topology .node[data-node="{node["id"]}"]')).to_contain_text(node["label"])
    figures = page.locator("#charts figure")
    expect(figures).to_have_count(len(experiment["view"]["charts"]) + 1)  # and the toggle markers
    legend = page.locator("#legend")
    for text in ("Synchronous call", "Request or reply", "Failed call", "Service", "DOWN", "slow", "a toggle"):
        expect(legend).to_contain_text(text)
    if slug == "checkout":
        for text in ("Asynchronous message", "Message on a queue", "Queue: “N waiting”", "Dead-letter", "chosen mode"):
            expect(legend).to_contain_text(text)
        expect(page.locator("#chart-breaker-lane")).to_have_count(0)
    else:
        expect(legend).to_contain_text("Pool: threads in use")
        expect(legend).to_contain_text("Circuit breaker state")
        expect(legend).not_to_contain_text("Queue")
        expect(page.locator("#chart-breaker-lane")).to_have_attribute("role", "img")
        expect(page.locator(".lane-legend")).to_contain_text("HALF-OPEN")
    assert errors == []


def test_clicking_a_service_opens_its_faults_in_place_and_down_shows_on_its_badge(
    page: Page, errors: list[str]
) -> None:
    start(page, "hybrid-baseline", duration=10, rate=3)
    expect(page.locator("#run-status")).to_contain_text("running", timeout=30_000)
    expect(page.get_by_label("Duration (s)")).to_be_disabled()  # settings are locked while the run goes
    email = page.locator('#topology .node[data-node="email"]')
    expect(email.locator(".badge-text")).to_have_text("up")
    email.click()
    box = page.locator("#node-faults")
    expect(box).to_be_visible()
    expect(box.get_by_role("heading")).to_have_text("Email faults")
    for label in ("Down", "Extra latency (ms)", "Error rate (fraction)"):
        expect(box.get_by_label(label)).to_be_visible()
    box.get_by_label("Down").check()
    expect(email.locator(".badge-text")).to_have_text("DOWN")
    expect(email).to_have_class(re.compile(r"\bdown\b"))
    expect(page.locator("#markers")).to_contain_text("email.down=true")
    expect(page.get_by_label("Email down")).to_be_checked()  # the side panel follows
    page.keyboard.press("Escape")
    expect(box).to_be_hidden()
    email.focus()
    page.keyboard.press("Enter")  # the diagram's services work from the keyboard too
    expect(box).to_be_visible()
    expect(box.get_by_label("Down")).to_be_checked()
    box.get_by_label("Down").uncheck()
    expect(email.locator(".badge-text")).to_have_text("up")
    expect(page.locator("#markers")).to_contain_text("email.down=false")
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(page.locator("#summary")).to_contain_text("final_queue_depth")
    expect(page.locator("#summary")).not_to_contain_text("Breaker opened")  # no breaker in this experiment
    expect(page.get_by_label("Email down")).to_be_disabled()
    expect(page.locator("#toggles-note")).to_contain_text("This run has ended")
    assert errors == []


def test_a_dropped_socket_resumes_after_the_last_event_without_duplicates_and_the_log_stays_small(
    page: Page, errors: list[str]
) -> None:
    sockets: list[WebSocket] = []
    received: dict[int, list[int]] = {}

    def on_socket(ws: WebSocket) -> None:
        index = len(sockets)
        sockets.append(ws)
        received[index] = []

        def frame(payload: str | bytes) -> None:
            for seq in re.findall(r'"seq":(\d+)', payload if isinstance(payload, str) else payload.decode()):
                received[index].append(int(seq))

        ws.on("framereceived", frame)

    page.on("websocket", on_socket)
    start(page, "quick-tour", duration=8)
    deadline = time.monotonic() + 30  # polled from here: under the enforced CSP the page may not eval strings
    while not page.evaluate("() => !!window.commsLab && window.commsLab.store.lastSeq > 40"):
        assert time.monotonic() < deadline, "the run sent fewer than 40 events in 30 s"
        time.sleep(0.1)
    held = page.evaluate(
        "() => { const s = window.commsLab.store.lastSeq; window.commsLab.connection.drop(); return s; }"
    )
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    assert len(sockets) == 2
    assert parse_qs(urlparse(sockets[0].url).query)["after"] == ["0"]
    after = int(parse_qs(urlparse(sockets[1].url).query)["after"][0])
    assert after >= held > 0
    assert received[1] and min(received[1]) == after + 1  # nothing the page already had was sent again
    seqs = page.evaluate("() => window.commsLab.store.events.map((e) => e.seq)")
    assert seqs == list(range(1, len(seqs) + 1))

    log = page.locator("#event-log")
    lines = page.evaluate("() => window.commsLab.logSize()")
    assert lines > 300
    assert 50 < log.locator("li").count() <= 200  # a window of rows, not every line
    log.focus()
    page.keyboard.press("Home")
    active = page.locator("#event-log-active")
    expect(active).to_contain_text("run started")
    expect(log).to_have_attribute("aria-activedescendant", "event-log-active")
    page.keyboard.press("ArrowDown")
    expect(active).to_have_attribute("aria-posinset", "2")
    page.keyboard.press("End")
    expect(active).to_contain_text("run finished")
    expect(active).to_have_attribute("aria-posinset", str(lines))
    page.keyboard.press("PageUp")
    page.keyboard.press("ArrowUp")
    created = page.locator("#event-log li", has_text="created").first
    request = created.inner_text().split()[1]
    created.click()
    waterfall = page.locator("#journey .waterfall")
    expect(waterfall).to_contain_text("request (hybrid)")
    expect(waterfall).to_contain_text("order → payment, attempt 1")
    expect(waterfall).to_contain_text("q.email: waiting")
    expect(waterfall).to_contain_text("email handles it, attempt 1")
    expect(page.locator("#journey")).to_contain_text(f"{request} created")  # in the list of all its events
    page.get_by_label("Find a request by correlation id").fill("r00002-hybrid")
    page.keyboard.press("Enter")
    expect(page.locator("#journey strong")).to_have_text("r00002-hybrid")
    expect(waterfall).to_contain_text("order → payment, attempt 1")
    assert errors == []


def test_each_log_line_says_what_its_event_means_from_the_event_contract(page: Page, errors: list[str]) -> None:
    start(page, "quick-tour", duration=5)
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    log = page.locator("#event-log")
    created = log.locator("li", has_text="created").first
    expect(created).to_have_attribute("title", f"request.created: {EVENTS['request.created'].meaning}")
    log.focus()
    page.keyboard.press("Home")
    started = f"run.started: {EVENTS['run.started'].meaning}"
    meaning = page.locator("#event-log-meaning")
    expect(meaning).to_contain_text(started)
    expect(meaning.locator("dt")).to_have_text(sorted(EVENTS["run.started"].fields))
    expect(meaning.locator("dd").nth(1)).to_have_text("checkout")  # the experiment this event names
    active = page.locator("#event-log-active")
    expect(active).to_contain_text("run started")
    expect(active).to_have_accessible_description(started)
    page.keyboard.press("End")
    expect(active).to_have_accessible_description(f"run.finished: {EVENTS['run.finished'].meaning}")
    assert errors == []


def test_an_event_type_the_contract_does_not_know_is_shown_as_unknown(page: Page, errors: list[str]) -> None:
    page.goto("/lab/checkout/")
    page.wait_for_function("() => !!window.commsLab")
    page.evaluate(
        """() => window.commsLab.receive([
        { seq: 1, type: "run.started", t: 0, experiment: "checkout", config: { duration: 10 } },
        { seq: 2, type: "message.teleported", t: 0.5, from: "order", to: "email" },
    ], {})"""
    )
    row = page.locator("#event-log li", has_text="message.teleported")
    expect(row).to_contain_text("[unknown event type]")
    expect(row).to_have_attribute("title", re.compile(r"^message\.teleported: not in the event contract"))
    page.locator("#event-log").focus()
    page.keyboard.press("End")
    expect(page.locator("#event-log-meaning")).to_contain_text("message.teleported: not in the event contract")
    assert errors == []


def test_reduced_motion_counts_hops_per_edge_instead_of_moving_dots(browser, web_server, transactional_db) -> None:
    context = browser.new_context(base_url=web_server.url, reduced_motion="reduce")
    page = context.new_page()
    try:
        start(page, "quick-tour", duration=5)
        calm = page.get_by_label("Counters instead of moving dots")
        expect(calm).to_be_checked()
        expect(calm).to_be_disabled()
        expect(page.locator("#calm-note")).to_be_visible()
        counter = page.locator("#topology .edge-count").filter(has_text=re.compile(r"^\d+ msg/s$")).first
        expect(counter).to_be_visible(timeout=15_000)
        assert page.evaluate("() => window.commsLab.particles.count()") == 0
        expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    finally:
        context.close()


def test_when_frames_run_slow_the_page_degrades_and_says_so(page: Page, errors: list[str]) -> None:
    start(page, "quick-tour", duration=10)
    expect(page.locator("#run-status")).to_contain_text("running", timeout=30_000)
    # Something else hogs the main thread: every frame now takes about 50 ms.
    page.evaluate(
        """() => { window.hog = true; (function busy() { const t = performance.now();
        while (performance.now() - t < 45); if (window.hog) requestAnimationFrame(busy); })(); }"""
    )
    note = page.locator("#perf-note")
    expect(note).to_be_visible(timeout=20_000)
    expect(note).to_contain_text("busy")
    assert page.evaluate("() => window.commsLab.frameStats().level") >= 1
    page.evaluate("() => { window.hog = false; }")
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    expect(page.locator("#event-log")).to_contain_text("run finished")
    assert errors == []


def test_a_hundred_thousand_events_keep_the_log_small_and_usable(page: Page, errors: list[str]) -> None:
    page.goto("/lab/checkout/?preset=hybrid-baseline")
    page.wait_for_function("() => !!window.commsLab")
    lines = page.evaluate(
        """() => {
        const frame = [];
        let seq = 0;
        const send = () => window.commsLab.receive(frame.splice(0), {});
        const push = (e) => { e.seq = ++seq; frame.push(e); if (frame.length === 500) send(); };
        push({ type: "run.started", t: 0, experiment: "checkout", config: { mode: "hybrid", duration: 1000 } });
        for (let i = 0; seq < 99_999; i++) {
          const t = i / 50, id = `r${i}-hybrid`;
          push({ type: "request.created", t, correlation_id: id, mode: "hybrid" });
          push({ type: "call.started", t, from: "order", to: "payment", correlation_id: id, attempt: 1 });
          push({ type: "call.finished", t: t + 0.4, from: "order", to: "payment", outcome: "ok", duration_ms: 400 });
          const done = { outcome: "ok", latency_ms: 401, mode: "hybrid" };
          push({ type: "request.finished", t: t + 0.4, correlation_id: id, ...done });
        }
        push({ type: "run.finished", t: 2000, status: "finished", summary: { requests: 25000 } });
        send();
        return window.commsLab.logSize();
    }"""
    )
    assert lines > 99_000
    log = page.locator("#event-log")
    expect(log).to_contain_text("run finished")
    assert log.locator("li").count() <= 200
    log.focus()
    page.keyboard.press("Home")
    expect(page.locator("#event-log-active")).to_contain_text("run started")
    page.keyboard.press("PageDown")
    page.keyboard.press("End")
    expect(page.locator("#event-log-active")).to_have_attribute("aria-posinset", str(lines))
    assert errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_before_during_and_after_a_run(
    browser, web_server, transactional_db, axe_js: Path, scheme: str
) -> None:
    # axe is injected as a script, which the enforced CSP would block: this context ignores the CSP (the lab's
    # pages are checked under it in test_lab_csp.py)
    context = browser.new_context(base_url=web_server.url, color_scheme=scheme, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    found = {}

    def check(stage: str) -> None:
        page.add_script_tag(path=str(axe_js))
        found[stage] = page.evaluate(AXE_RUN)

    try:
        start(page, "quick-tour", duration=5)
        # Chart colours follow the scheme (uPlot reads them from these variables).
        first = page.evaluate("() => getComputedStyle(document.documentElement).getPropertyValue('--chart-1').trim()")
        assert first == ("#8ab4f8" if scheme == "dark" else "#0b57d0")
        check("during a run")
        page.locator('#topology .node[data-node="email"]').click()
        check("with a service's faults open")
        expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
        page.locator("#event-log li", has_text="created").first.click()
        expect(page.locator("#journey .waterfall")).to_be_visible()
        check("after the run, following a request")
        page.goto("/lab/cascade/")
        check("cascade before a run")
    finally:
        context.close()
    assert found == {stage: [] for stage in found}


def test_a_shared_run_opens_read_only_with_its_own_settings(page: Page, browser, web_server, errors: list[str]) -> None:
    start(page, "quick-tour", duration=5, rate=4)
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    link = page.locator("#share-link").get_attribute("href")
    assert link and "share=" in link
    other = browser.new_context(base_url=web_server.url)
    try:
        viewer = other.new_page()
        viewer.goto(link)
        expect(viewer.locator("#run-status")).to_have_text("finished", timeout=15_000)
        expect(viewer.locator("#toggles-note")).to_contain_text("read-only")
        expect(viewer.get_by_role("button", name="Start run")).to_be_disabled()
        expect(viewer.get_by_label("Email down")).to_be_disabled()
        expect(viewer.get_by_label("Request rate (requests/s)")).to_have_value("4")  # the run's own config
        expect(viewer.locator("#event-log")).to_contain_text("run finished")
        expect(viewer.get_by_role("table").filter(has_text="Success rate")).to_contain_text("%")
    finally:
        other.close()
    assert errors == []


@pytest.mark.parametrize("name", ["pubsub", "request-reply"])
def test_a_learner_made_design_gets_its_page_from_its_document(page: Page, errors: list[str], name: str) -> None:
    document = yaml.safe_load((SKELETONS / f"{name}.yaml").read_text())
    page.goto("/lab/")
    run = page.evaluate(
        """async (topology) => {
        const token = decodeURIComponent((document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "");
        const response = await fetch("/lab/api/runs", { method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": token },
          body: JSON.stringify({ topology, config: { duration: 5, rate: 2 } }) });
        return { status: response.status, body: await response.json() };
    }""",
        document,
    )
    assert run["status"] == 201, run
    page.goto(run["body"]["url"])
    expect(page.locator("#run-status")).to_have_text("finished", timeout=60_000)
    diagram = page.evaluate("() => JSON.parse(document.getElementById('experiment-data').textContent).diagram")
    expect(page.locator("#topology .node")).to_have_count(len(diagram["nodes"]))
    expect(page.locator("#topology .edge")).to_have_count(len(diagram["edges"]))
    expect(page.locator("#legend")).to_contain_text("Synchronous call")
    expect(page.locator("#event-log")).to_contain_text("run finished")
    expect(page.get_by_role("table").filter(has_text="Success rate")).to_contain_text("%")
    assert errors == []
