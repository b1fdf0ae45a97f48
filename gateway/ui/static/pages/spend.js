// Spend: the ledger summed by day, backend, key or route (GET /admin/spend: the JSON of
// `gateway spend --json`), as a chart and a table whose dollar figures are the report's whole
// nano-USD written out exactly, with the savings against the cheapest managed provider.

import * as api from "../api.js";
import { barChart } from "../charts.js";
import { errorLine, field, h, replace, select } from "../dom.js";
import { count, usd, usdFromNano } from "../format.js";

export const TITLE = "Spend";
const GROUPS = [["backend", "backend"], ["day", "day (UTC)"], ["key", "key"], ["route", "route"]];

// The columns of `gateway spend`'s table, in its order and with its names.
const COLUMNS = [
  ["requests", "requests", (row) => count(row.requests)],
  ["attempts", "attempts", (row) => count(row.attempts)],
  ["prompt_tokens", "prompt", (row) => count(row.prompt_tokens)],
  ["cached_tokens", "cached", (row) => count(row.cached_tokens)],
  ["completion_tokens", "completion", (row) => count(row.completion_tokens)],
  ["reasoning_tokens", "reasoning", (row) => count(row.reasoning_tokens)],
  ["cost_usd", "cost_usd", (row) => usdFromNano(row.cost_nano_usd)],
  ["self_hosted_cost_usd", "self_hosted_usd", (row) => usdFromNano(row.self_hosted_cost_nano_usd)],
  ["total_usd", "total_usd", (row) => usdFromNano(row.cost_nano_usd + row.self_hosted_cost_nano_usd)],
  ["baseline_usd", "cheapest_managed_usd", (row) => usdFromNano(row.baseline_nano_usd)],
  ["savings_usd", "savings_usd", (row) => usdFromNano(row.baseline_nano_usd - row.cost_nano_usd - row.self_hosted_cost_nano_usd)],
];

function dayStart(value) {
  return value ? `${value}T00:00:00Z` : "";
}

function tableRow(row) {
  return h("tr", { dataset: { group: row.group } },
    h("th", { scope: "row", dataset: { field: "group" } }, row.group),
    COLUMNS.map(([key, , text]) => h("td", { class: "num", dataset: { field: key } }, text(row))));
}

export function render(container) {
  const by = select("spend-by", GROUPS, "backend");
  const since = h("input", { id: "spend-since", type: "date" });
  const until = h("input", { id: "spend-until", type: "date" });
  const problem = h("div");
  const summary = h("div", { class: "summary-cards", role: "status", "aria-live": "polite" });
  const chartBox = h("div");
  const tableBox = h("div", { class: "table-box" });
  const baselines = h("ul", { class: "baselines" });
  const form = h("form", { class: "filters", id: "spend-form", onsubmit: (event) => { event.preventDefault(); load(); } },
    field("Group by", by), field("Since (first UTC day included)", since), field("Until (first UTC day left out)", until),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Show")));
  replace(container, h("h1", null, TITLE),
    h("p", { class: "hint" }, "The same figures as ", h("code", null, "gateway spend --json"),
      ": money is summed in whole nano-USD, so every row and the total add up exactly to the ledger's records."),
    form, problem, summary, chartBox, tableBox, h("h2", null, "Savings baselines"), baselines);

  async function load() {
    try {
      const report = await api.get("/admin/spend", { by: by.value, since: dayStart(since.value), until: dayStart(until.value) });
      const total = report.total;
      const spent = total.cost_nano_usd + total.self_hosted_cost_nano_usd;
      const saved = total.baseline_nano_usd - spent;
      const share = total.baseline_nano_usd > 0 && saved > 0 ? ` (${((saved / total.baseline_nano_usd) * 100).toFixed(1)}% less)` : "";
      replace(summary,
        h("div", { class: "card" }, h("span", { class: "card-label" }, "Spent"), h("span", { class: "card-value", id: "spend-total" }, usd(spent / 1e9))),
        h("div", { class: "card" }, h("span", { class: "card-label" }, "Cheapest managed provider would have billed"),
          h("span", { class: "card-value" }, usd(total.baseline_nano_usd / 1e9))),
        h("div", { class: "card" }, h("span", { class: "card-label" }, saved >= 0 ? "Saved" : "Paid above the cheapest managed provider"),
          h("span", { class: "card-value", id: "spend-saved" }, `${usd(Math.abs(saved) / 1e9)}${share}`)),
        h("div", { class: "card" }, h("span", { class: "card-label" }, "Requests / attempts"),
          h("span", { class: "card-value" }, `${count(total.requests)} / ${count(total.attempts)}`)));
      replace(chartBox, report.rows.length === 0 ? null : barChart({
        title: `Spend and the cheapest managed provider's bill, by ${report.by}`,
        categories: report.rows.map((row) => row.group),
        series: [
          { label: "spent (per-token + self-hosted share)", values: report.rows.map((row) => (row.cost_nano_usd + row.self_hosted_cost_nano_usd) / 1e9) },
          { label: "cheapest managed provider", values: report.rows.map((row) => row.baseline_nano_usd / 1e9) },
        ],
        format: (value) => usd(value),
      }));
      replace(tableBox, h("table", { id: "spend-table" },
        h("caption", null, `Tokens and dollars by ${report.by}`),
        h("thead", null, h("tr", null, h("th", { scope: "col", dataset: { field: "group" } }, report.by),
          COLUMNS.map(([key, title]) => h("th", { scope: "col", class: "num", dataset: { field: key } }, title)))),
        h("tbody", null, report.rows.map((row) => tableRow(row))),
        h("tfoot", null, tableRow(total))));
      replace(baselines, report.baselines.length === 0 ? h("li", null, "No managed provider prices these families.") :
        report.baselines.map((b) => h("li", null,
          `${b.family}: ${b.provider} ${b.model_id} (${b.input_usd_per_mtok} / ${b.cached_input_usd_per_mtok ?? "–"} cached / ${b.output_usd_per_mtok} USD per Mtok; ${b.source})`)));
      replace(problem);
    } catch (error) {
      replace(problem, errorLine(error));
    }
  }

  load();
  return null;
}
