// The form: preset, run settings (locked while a run goes), and the live parameters grouped into "Faults: x",
// "Queue: q", "Subscription: s", "Stream: l", "Delivery: z" and "Policy: y" boxes (by their `group`), each with its one-line help visible. Also the fault box that opens in place when a service
// on the diagram is clicked: its inputs stand in for the side panel's, so both stay in step.
import { $, h } from "./util.js";

const GROUP_TITLES = { faults: "Faults", queue: "Queue", subscription: "Subscription", stream: "Stream", delivery: "Delivery" }; // any other group is a policy's

export function createControls(exp, { onToggle, onPresetChange, onFormChange }) {
  const params = Object.fromEntries(exp.parameters.map((p) => [p.name, p]));
  const select = $("preset");
  let locked = false;
  let finishedNote = "";

  const presetBySlug = (slug) => exp.presets.find((p) => p.slug === slug);
  const currentPreset = () => presetBySlug(select.value);
  const startValues = () => ({ ...Object.fromEntries(exp.parameters.map((p) => [p.name, p.default])), ...(currentPreset()?.config || {}) });

  function inputFor(p, value, live) {
    let input;
    if (p.type === "bool") input = h("input", { type: "checkbox", checked: !!value });
    else if (p.type === "choice") {
      input = h("select", {}, ...p.choices.map((c) => h("option", { value: c, text: c })));
      input.value = value;
    } else if (p.type === "text") {
      input = h("input", { type: "text", spellcheck: false, autocomplete: "off", maxlength: 200 });
      input.value = value;
    } else {
      input = h("input", { type: "number", min: p.minimum, max: p.maximum, step: p.type === "int" ? 1 : "any", inputmode: "decimal" });
      input.value = value;
    }
    input.id = `p-${p.name.replace(/\W/g, "-")}`;
    input.name = p.name;
    input.dataset.param = p.name;
    if (live) input.addEventListener("change", () => changed(p, input));
    else input.addEventListener("change", () => onFormChange());
    return input;
  }

  function readInput(p, input) {
    if (p.type === "bool") return input.checked;
    if (p.type === "choice") return input.value;
    if (p.type === "text") return input.value.trim(); // its syntax is checked by the server, which names the rule
    const v = Number(input.value);
    if (input.value === "" || Number.isNaN(v) || v < p.minimum || v > p.maximum || (p.type === "int" && !Number.isInteger(v))) {
      throw new Error(`${p.label}: must be ${p.type === "int" ? "a whole number" : "a number"} from ${p.minimum} to ${p.maximum}${p.unit ? ` ${p.unit}` : ""}`);
    }
    return v;
  }

  function row(p, input) {
    const label = h("label", { for: input.id, text: p.label + (p.unit && p.type !== "bool" ? ` (${p.unit})` : "") });
    const error = h("span", { class: "field-error", id: `${input.id}-error`, hidden: true });
    const described = [error.id];
    const parts = [label, input];
    if (p.help) {
      const help = h("span", { class: "help", id: `${input.id}-help`, text: p.help });
      described.unshift(help.id);
      parts.push(help);
    }
    input.setAttribute("aria-describedby", described.join(" "));
    return h("div", { class: "toggle-row" }, ...parts, error);
  }

  function setFieldError(name, text) {
    const input = document.querySelector(`#run-form [data-param="${CSS.escape(name)}"], #toggles [data-param="${CSS.escape(name)}"]`);
    if (!input) return false;
    const el = $(`${input.id}-error`);
    el.textContent = text;
    el.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
    return true;
  }

  function changed(p, input) {
    let value;
    try {
      value = readInput(p, input);
      setFieldError(p.name, "");
    } catch (err) {
      setFieldError(p.name, err.message);
      return;
    }
    onToggle(p.name, value);
    onFormChange();
  }

  function fill() {
    const preset = currentPreset(), values = startValues();
    $("notice").textContent = preset ? `What to notice: ${preset.notice}` : "Defaults, no scripted faults: change anything you like.";
    const settings = $("settings-fields"), toggles = $("toggles");
    settings.replaceChildren();
    toggles.replaceChildren();
    const groups = new Map();
    for (const p of exp.parameters) {
      if (!p.live) {
        settings.append(row(p, inputFor(p, values[p.name], false)));
        continue;
      }
      if (!groups.has(p.group)) groups.set(p.group, []);
      groups.get(p.group).push(p);
    }
    for (const [group, list] of groups) {
      const [kind, name] = (group || "policy:other").split(":");
      const details = h("details", { "data-group": group }, h("summary", { text: `${GROUP_TITLES[kind] || "Policy"}: ${name}` }));
      const touches = (k) => k.startsWith(`${name}.`);
      if (preset && (preset.script.some((st) => Object.keys(st.values).some(touches)) || Object.keys(preset.config).some(touches))) details.open = true;
      for (const p of list) details.append(row(p, inputFor(p, values[p.name], true)));
      toggles.append(details);
    }
    applyLock();
  }

  function applyLock() {
    for (const input of document.querySelectorAll("#settings-fields [data-param]")) input.disabled = locked;
    $("preset").disabled = locked;
    $("settings-locked").hidden = !locked;
    for (const input of document.querySelectorAll("#toggles [data-param], #node-faults [data-param]")) input.disabled = !!finishedNote;
    $("toggles-note").textContent = finishedNote;
    $("toggles-note").hidden = !finishedNote;
  }

  select.replaceChildren(h("option", { value: "", text: "Custom (defaults)" }), ...exp.presets.map((p) => h("option", { value: p.slug, text: p.title })));
  select.value = $("lab").dataset.preset || exp.default_preset;
  select.addEventListener("change", () => {
    finishedNote = ""; // preparing the next run: its toggles are settings again
    fill();
    onPresetChange();
    onFormChange();
  });
  fill();

  // ---- the fault box that opens on the diagram ----
  const box = $("node-faults");
  let boxNode = null;
  let returnFocus = null;
  const QUICK = [["down", "Down"], ["latency_ms", "Extra latency"], ["error_rate", "Error rate"]];

  function hasFaults(id) {
    return QUICK.some(([suffix]) => params[`${id}.${suffix}`]);
  }

  function openFaults(node, position) {
    boxNode = node.id;
    returnFocus = document.activeElement;
    const fields = [];
    for (const [suffix, label] of QUICK) {
      const p = params[`${node.id}.${suffix}`];
      const side = p && document.querySelector(`#toggles [data-param="${CSS.escape(p.name)}"]`);
      if (!side) continue;
      const input = side.cloneNode(true);
      input.id = `nf-${suffix}`;
      input.removeAttribute("aria-describedby");
      input.addEventListener("change", () => {
        if (side.type === "checkbox") side.checked = input.checked;
        else side.value = input.value;
        side.dispatchEvent(new Event("change"));
      });
      if (side.type === "checkbox") input.checked = side.checked;
      else input.value = side.value;
      fields.push(h("div", { class: "toggle-row" }, h("label", { for: input.id, text: label + (p.unit && p.type !== "bool" ? ` (${p.unit})` : "") }), input));
    }
    const group = document.querySelector(`#toggles details[data-group="faults:${CSS.escape(node.id)}"]`);
    const more = h("button", { type: "button", class: "link", text: "All its faults…", onclick: () => {
      closeFaults(false);
      if (group) {
        group.open = true;
        group.querySelector("summary").focus();
      }
    } });
    const close = h("button", { type: "button", class: "close", "aria-label": "Close", text: "×", onclick: () => closeFaults(true) });
    box.replaceChildren(h("h3", { id: "node-faults-h", text: `${node.label} faults` }), close, ...fields, more);
    box.style.left = `${position.left}%`;
    box.style.top = `${position.top}%`;
    box.classList.toggle("flip", position.left > 60);
    box.hidden = false;
    applyLock();
    box.querySelector("input, select")?.focus();
  }

  function closeFaults(restore) {
    if (box.hidden) return;
    box.hidden = true;
    box.replaceChildren();
    boxNode = null;
    if (restore && returnFocus) returnFocus.focus();
  }
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") closeFaults(true);
  });
  document.addEventListener("pointerdown", (ev) => {
    if (!box.hidden && !box.contains(ev.target) && !ev.target.closest?.("#topology .node")) closeFaults(false);
  });

  return {
    params,
    hasFaults,
    openFaults,
    closeFaults,
    currentPreset,
    presetSlug: () => select.value,
    setPreset(slug) {
      if (slug !== undefined && slug !== null && select.value !== slug) {
        select.value = slug;
        fill();
      }
    },
    /** Everything that differs from the preset's values: the config of a new run. */
    collectConfig() {
      const base = startValues(), config = {};
      for (const input of document.querySelectorAll("#run-form [data-param], #toggles [data-param]")) {
        const p = params[input.dataset.param];
        const value = readInput(p, input);
        if (value !== base[p.name]) config[p.name] = value;
      }
      return config;
    },
    /** The values the form shows now (for previewing badges before a run). */
    formValues() {
      const values = startValues();
      for (const input of document.querySelectorAll("#run-form [data-param], #toggles [data-param]")) {
        try {
          values[input.dataset.param] = readInput(params[input.dataset.param], input);
        } catch {
          /* keep the preset's value while the field is invalid */
        }
      }
      return values;
    },
    /** Show values set elsewhere (a run's config, the preset's script, another tab) in the inputs, unless one is
     * being edited; `settings` also fills the run settings (a run opened by its link shows its own config). */
    syncInputs(values, { settings = false } = {}) {
      const scopes = settings ? ["#settings-fields", "#toggles", "#node-faults"] : ["#toggles", "#node-faults"];
      for (const [name, value] of Object.entries(values)) {
        for (const input of document.querySelectorAll(scopes.map((sc) => `${sc} [data-param="${CSS.escape(name)}"]`).join(", "))) {
          if (document.activeElement === input) continue;
          if (input.type === "checkbox") input.checked = !!value;
          else input.value = value;
        }
      }
    },
    setFieldError,
    clearErrors() {
      document.querySelectorAll(".field-error").forEach((el) => { el.hidden = true; });
    },
    /** While a run goes its settings are fixed; after it ends the live toggles can no longer act. */
    setLocked(value, note = "") {
      locked = value;
      finishedNote = note;
      applyLock();
    },
    openNode: () => boxNode,
  };
}
