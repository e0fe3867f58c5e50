// The panels under the charts, one per entry of the experiment's `view.panels` (docs/lab-page.md), each made by
// its kind's module. A panel gets every event (`add`), draws at most once per frame (`render`), and starts afresh
// with a new run (`reset`); `page` gives it what it may need of the page: the run (`run()`), whether it is live
// (`live()`), `runsUrl`, `csrfToken()`, a redraw request (`invalidate()`); and the experiment (`exp`, `groupBy`).
import { pendingPanel } from "./pending.js";
import { consumersPanel } from "./consumers.js";
import { deadLettersPanel } from "./deadletters.js";
import { projectionPanel } from "./projection.js";

const KINDS = {
  pending_requests: pendingPanel,
  projection: projectionPanel,
  consumers: consumersPanel,
  dead_letters: deadLettersPanel,
};

/** The experiment's panels in `container` (hidden when it has none): feed them events, render once per frame. */
export function createPanels(container, exp, page) {
  const context = { ...page, exp, groupBy: exp.view?.group_by };
  const panels = (exp.view?.panels || []).filter((p) => KINDS[p.kind]).map((p) => KINDS[p.kind](p, context));
  container.replaceChildren(...panels.map((p) => p.el));
  container.hidden = !panels.length;
  panels.forEach((p) => p.render());
  return {
    add: (e) => panels.forEach((p) => p.add(e)),
    render: () => panels.forEach((p) => p.render()),
    reset: () => panels.forEach((p) => p.reset()),
  };
}
