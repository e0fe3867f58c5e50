// Predict → run → debrief. Before a run the preset's `predict` question is asked (optional: Skip hides it); the
// answer is stored on the server before the run starts (POST /lab/api/predictions), so the quiz can credit it.
// After the run the debrief sets the prediction beside the figure the run recorded (with none made, it still says
// which choice was right: the server reveals that only once the learner has run the preset), lists the run's
// findings and invariants with their numbers, and links the preset's `next`. Everything comes from the experiment
// JSON: no experiment is named here.
import { $, h, fmt } from "./util.js";

/** `by_mode.sync.success_rate_pct` → the number at that path of the summary, or null. */
export function figureAt(summary, path) {
  let value = summary;
  for (const part of path.split(".")) {
    if (!value || typeof value !== "object" || !(part in value)) return null;
    value = value[part];
  }
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

export function createDebrief(exp, { predictionsUrl, csrfToken, presetUrl }) {
  const box = $("predict-box");
  const panel = $("debrief");
  const presets = new Map(exp.presets.map((p) => [p.slug, p]));
  let preset = null; // the preset whose question is on screen
  let saved = null; // the server's answer to our POST: the prediction with the question's answers revealed
  let skipped = false;
  let runPrediction = null; // what was predicted for the run going now (null: skipped or none asked)
  let startedHere = false; // the run was started from this page, so runPrediction is its prediction

  function question() {
    return preset && preset.predict;
  }

  function pendingAnswer() {
    const q = question();
    if (!q || saved || skipped) return null;
    if (q.kind === "choice") {
      const picked = box.querySelector("input[name=predict-choice]:checked");
      return picked ? { choice: picked.value } : null;
    }
    const text = $("predict-value").value.trim();
    return text === "" ? null : { value: Number(text) };
  }

  function setError(text) {
    const el = $("predict-error");
    el.textContent = text;
    el.hidden = !text;
  }

  function describe(prediction) {
    const q = prediction.predict;
    if (q.kind === "choice") return q.choices.find((c) => c.id === prediction.answer)?.text || String(prediction.answer);
    return `${fmt(prediction.answer)} ${q.unit}`;
  }

  function renderQuestion() {
    const q = question();
    box.hidden = !q;
    if (!q) return box.replaceChildren();
    if (saved) {
      box.replaceChildren(
        h("p", { class: "predict-saved", role: "status" },
          h("span", { "aria-hidden": "true", text: "✎ " }),
          `Your prediction is saved: “${describe(saved)}”. Start the run to see what happens.`),
      );
      return;
    }
    if (skipped) {
      box.replaceChildren(h("p", { class: "hint" }, "Prediction skipped for this run. ",
        h("button", { type: "button", class: "link-button", text: "Predict after all", onclick: () => { skipped = false; renderQuestion(); $("predict-h").focus(); } })));
      return;
    }
    const legend = h("legend", { id: "predict-h", tabindex: "-1" }, h("strong", { text: "Predict first: " }), q.prompt);
    const fields = h("fieldset", { class: "predict" }, legend);
    if (q.kind === "choice") {
      for (const c of q.choices) {
        fields.append(h("label", { class: "choice" }, h("input", { type: "radio", name: "predict-choice", value: c.id }), ` ${c.text}`));
      }
    } else {
      fields.append(h("label", { for: "predict-value", text: `Your number (${q.unit}, judged within ± ${fmt(q.tolerance)})` }),
        h("input", { id: "predict-value", type: "number", step: "any", inputmode: "decimal", "aria-describedby": "predict-note" }));
    }
    fields.append(
      h("p", { id: "predict-note", class: "hint", text: "Optional. Your first prediction on this preset, saved before you first run it, counts as your prediction on its quiz question." }),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", id: "predict-save", text: "Save prediction", onclick: () => save() }),
        h("button", { type: "button", class: "secondary", id: "predict-skip", text: "Skip", onclick: () => { skipped = true; setError(""); renderQuestion(); } })),
      h("p", { id: "predict-error", class: "bad", role: "alert", hidden: true }),
    );
    box.replaceChildren(fields);
  }

  /** Store the answer on screen. False when there is none or the server refused it (the error is shown). */
  async function save() {
    const answer = pendingAnswer();
    if (!answer) {
      if (!saved && !skipped && question()) setError("Choose an answer first, or Skip.");
      return false;
    }
    const response = await fetch(predictionsUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ experiment: exp.slug, preset: preset.slug, ...answer }),
    });
    const data = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (!response.ok) {
      setError(Object.values(data.fields || {})[0] || data.error);
      return false;
    }
    saved = data;
    setError("");
    renderQuestion();
    return true;
  }

  function whatHappens(choices) {
    const key = choices.find((c) => c.correct);
    return key ? h("p", {}, h("strong", { text: "What happens: " }), `${key.text} ${key.explanation}`) : null;
  }

  function resultRow(q, summary, prediction, own, answers) {
    const figure = figureAt(summary, q.metric);
    const shown = figure === null ? "not recorded by this run" : `${fmt(figure)} ${q.unit}`.trim();
    const rows = [h("p", {}, "The run recorded ", h("code", { text: q.metric }), " = ", h("strong", { class: "debrief-figure", text: shown }), ".")];
    if (!prediction) {
      rows.unshift(h("p", { class: "hint", text: `${own ? "You did not predict this run. " : ""}The preset asks: ${q.prompt}` }));
      if (answers?.choices) rows.push(whatHappens(answers.choices));
      return rows.filter(Boolean);
    }
    const right = q.kind === "choice"
      ? !!prediction.predict.choices.find((c) => c.id === prediction.answer)?.correct
      : figure !== null && Math.abs(prediction.answer - figure) <= q.tolerance;
    rows.unshift(h("p", { class: `debrief-verdict ${right ? "ok" : "bad"}` },
      h("span", { "aria-hidden": "true", text: right ? "✔ " : "✘ " }),
      h("strong", { text: right ? "Your prediction held: " : "Your prediction missed: " }), `“${describe(prediction)}”`));
    if (q.kind === "choice") {
      const mine = prediction.predict.choices.find((c) => c.id === prediction.answer);
      if (mine && !mine.correct) rows.push(h("p", { class: "why", text: mine.explanation }));
      const told = whatHappens(prediction.predict.choices);
      if (told) rows.push(told);
    } else if (figure !== null) {
      rows.push(h("p", { class: "why", text: `Off by ${fmt(Math.abs(prediction.answer - figure))} ${q.unit}; within ± ${fmt(q.tolerance)} counts.` }));
    }
    return rows;
  }

  /** The learner's predictions of a preset, latest first, and its answers once they have run it (or null). */
  async function listed(slug) {
    const query = new URLSearchParams({ experiment: exp.slug, preset: slug });
    const response = await fetch(`${predictionsUrl}?${query}`).catch(() => null);
    return response && response.ok ? response.json() : null;
  }

  function invariantLine(i) {
    const verdict = i.holds ? "✓ kept" : `✗ broken ${i.violations} time${i.violations === 1 ? "" : "s"}`;
    return h("li", { class: i.holds ? "ok" : "bad" }, h("strong", { text: `${i.name.replaceAll("_", " ")}: ${verdict}. ` }), i.explanation || "");
  }

  return {
    /** The preset chosen for the next run: its question replaces any other. */
    setPreset(slug, { canPredict = true } = {}) {
      const next = presets.get(slug) || null;
      if (next !== preset) {
        saved = null;
        skipped = false;
      }
      preset = canPredict ? next : null;
      renderQuestion();
    },
    /** Called as Start is pressed, before the run is created: stores an answer left unsaved on screen. False
     * when the server refused it, so the run is not started on a prediction that was not kept. */
    async beforeStart() {
      if (pendingAnswer() && !(await save())) return false;
      runPrediction = saved;
      startedHere = true;
      return true;
    },
    /** A run has started: no question and no debrief until it ends. */
    reset() {
      panel.hidden = true;
      box.hidden = true;
    },
    /** The run ended: its prediction beside its result, then findings, invariants and what to try next. A run
     * opened later (a reload, its address) looks up the learner's latest prediction made before it was created. */
    async show(summary, slug, { createdAt = null } = {}) {
      const ran = presets.get(slug);
      if (!summary || !ran) return;
      const mayPredict = startedHere || !!createdAt; // the learner's own run, not a shared one
      const looked = !startedHere && createdAt && ran.predict;
      const stored = mayPredict && ran.predict && (looked || !runPrediction) ? await listed(ran.slug) : null;
      const prediction = looked ? stored?.predictions.find((p) => Date.parse(p.created_at) < Date.parse(createdAt)) || null : runPrediction;
      const parts = [h("h2", { id: "debrief-h", text: `Debrief: ${ran.title}` })];
      if (ran.predict) parts.push(h("section", { class: "debrief-prediction", "aria-label": "Your prediction and the result" }, ...resultRow(ran.predict, summary, prediction, mayPredict, stored?.answers)));
      const findings = (summary.findings || []).map((f) => h("li", { text: typeof f === "string" ? f : f.text || "" }));
      if (findings.length) parts.push(h("h3", { text: "What the run showed" }), h("ul", { class: "debrief-findings" }, ...findings));
      const invariants = summary.invariants || [];
      if (invariants.length) parts.push(h("h3", { text: "Promises checked" }), h("ul", { class: "invariants debrief-invariants" }, ...invariants.map(invariantLine)));
      const next = ran.next && presets.get(ran.next.preset);
      if (next) {
        parts.push(h("p", { class: "debrief-next" }, h("strong", { text: "Try next: " }),
          h("a", { href: presetUrl(next.slug), id: "debrief-next-link", text: next.title }), ` — ${ran.next.why}`));
      }
      panel.replaceChildren(...parts);
      panel.hidden = false;
      $("debrief-status").textContent = "Run finished: the debrief is below the diagram.";
      runPrediction = null;
      startedHere = false;
      saved = null;
      skipped = false;
      preset = mayPredict ? presets.get($("preset").value) || null : null;
      renderQuestion();
    },
  };
}
