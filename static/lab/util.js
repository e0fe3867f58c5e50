// Small helpers shared by the lab page's modules: DOM building, number formatting, percentiles.
export const $ = (id) => document.getElementById(id);
export const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element with attributes (properties where they exist) and children. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  el.append(...children.filter((c) => c !== null && c !== undefined));
  return el;
}

/** An SVG element with attributes. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

export function percentile(sorted, p) {
  if (!sorted.length) return null;
  const pos = ((sorted.length - 1) * p) / 100, lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function fmt(v, unit = "") {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  return `${typeof v === "number" ? +v.toFixed(2) : v}${unit}`;
}

export function toggleLabel(values, by) {
  const parts = Object.entries(values || {}).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(3) : v}`);
  return (by && by !== "learner" ? `${by}: ` : "") + parts.join(", ");
}

export const byNumber = (a, b) => a - b;
