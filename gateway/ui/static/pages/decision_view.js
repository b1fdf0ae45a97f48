// A routing decision (DecisionReport: `gateway explain`'s JSON) as the Requests and Policy pages show it.
// Candidate fields are shown generically, so figures routing adds later appear as columns by themselves.

import { h } from "../dom.js";
import { plain, usd } from "../format.js";

const FIRST_COLUMNS = ["backend", "kept", "reason", "expected_cost_usd"];

function cell(key, value) {
  if (key === "expected_cost_usd") return usd(value, 8);
  return plain(value);
}

/** Title-case a JSON key: `expected_cost_usd` -> `Expected cost usd`. */
export function label(key) {
  const text = key.replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A definition list of every field of `object` (nested objects as JSON). */
export function fieldList(object, skip = []) {
  return h("dl", { class: "fields" }, Object.entries(object).filter(([key]) => !skip.includes(key)).flatMap(([key, value]) => [
    h("dt", null, label(key)), h("dd", { dataset: { field: key } }, plain(value)),
  ]));
}

export function decisionView(report, caption) {
  const candidates = report.candidates ?? [];
  const extra = [...new Set(candidates.flatMap((c) => Object.keys(c)))].filter((k) => !FIRST_COLUMNS.includes(k));
  const columns = [...FIRST_COLUMNS, ...extra];
  return h("div", { class: "decision" },
    fieldList(report, ["candidates"]),
    h("div", { class: "table-box" }, h("table", { class: "candidates" },
      h("caption", null, caption ?? "Every candidate backend, kept or dropped, and why"),
      h("thead", null, h("tr", null, columns.map((key) => h("th", { scope: "col", dataset: { field: key } }, label(key))))),
      h("tbody", null, candidates.map((candidate) => h("tr", { class: candidate.kept ? "kept" : "dropped", dataset: { backend: candidate.backend } },
        columns.map((key) => h(key === "backend" ? "th" : "td", { scope: key === "backend" ? "row" : null, dataset: { field: key } },
          cell(key, candidate[key])))))))));
}
