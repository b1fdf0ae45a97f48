// Requests: the newest ledger records (GET /admin/usage, newest first, paged by record id), filtered
// by key, backend, route and status; each opens its record and its routing explanation.

import * as api from "../api.js";
import { errorLine, field, h, poll, replace, select } from "../dom.js";
import { DASH, count, ms, plain, usdFromNano, utc } from "../format.js";
import { decisionView, fieldList } from "./decision_view.js";

export const TITLE = "Requests";
const PAGE_SIZES = [["25", "25"], ["100", "100"], ["5", "5"]];
const FOLLOW_MS = 2000;

// Shown as columns when a record has them; every field of a record is in its detail view anyway.
const COLUMNS = [
  ["time", "Time", (r) => utc(r.time)],
  ["id", "Record", null],
  ["key_name", "Key", (r) => r.key_name ?? DASH],
  ["route", "Route", (r) => r.route ?? DASH],
  ["backend", "Backend", (r) => r.backend],
  ["fallback_chain", "Fallback chain", (r) => plain(r.fallback_chain)],
  ["thinking_source", "Thinking", (r) => plain(r.thinking_source), true],
  ["protocol", "Protocol", (r) => plain(r.protocol), true],
  ["tokens", "Tokens in / cached / out / reasoning", (r) => `${count(r.prompt_tokens)} / ${count(r.cached_tokens)} / ${count(r.completion_tokens)} / ${count(r.reasoning_tokens)}`],
  ["cost", "Cost USD", (r) => usdFromNano(r.cost_nano_usd)],
  ["ttft_ms", "TTFT", (r) => ms(r.ttft_ms)],
  ["latency_ms", "Latency", (r) => ms(r.latency_ms)],
  ["status", "Status", (r) => (r.ok ? String(r.status) : `${r.status} ${r.error_kind ?? ""}`.trim())],
];

export function render(container) {
  const state = { cursor: {}, first_id: null, last_id: null, has_more: false, open: null };
  const keyInput = h("input", { id: "filter-key", type: "text", autocomplete: "off" });
  const backendSelect = select("filter-backend", [["", "any"]], "");
  const routeSelect = select("filter-route", [["", "any"]], "");
  const statusSelect = select("filter-status", [["", "any"], ["ok", "succeeded"], ["failed", "failed"]], "");
  const codeInput = h("input", { id: "filter-code", type: "number", min: 100, max: 599, inputmode: "numeric" });
  const pageSize = select("page-size", PAGE_SIZES, "25");
  const follow = h("input", { id: "follow", type: "checkbox" });
  const problem = h("div");
  const pageInfo = h("p", { class: "summary", role: "status", "aria-live": "polite" });
  const tableBox = h("div", { class: "table-box" });
  const newer = h("button", { type: "button", class: "secondary", id: "page-newer", onclick: () => load({ before: state.first_id }) }, "← Newer");
  const older = h("button", { type: "button", class: "secondary", id: "page-older", onclick: () => load({ after: state.last_id }) }, "Older →");
  const detail = h("section", { id: "request-detail", class: "detail", "aria-labelledby": "detail-title", hidden: true, tabindex: "-1" });
  const form = h("form", { class: "filters", id: "request-filters", onsubmit: (event) => { event.preventDefault(); load({}); } },
    field("Key", keyInput), field("Backend", backendSelect), field("Route", routeSelect),
    field("Outcome", statusSelect), field("HTTP status", codeInput), field("Rows per page", pageSize),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Apply filters")));

  replace(container, h("h1", null, TITLE), form,
    h("div", { class: "toolbar" }, newer, older,
      h("label", { class: "inline", for: "follow" }, follow, " Follow new requests (first page, every 2 s)")),
    pageInfo, problem, tableBox, detail);

  function filters() {
    const outcome = statusSelect.value;
    return {
      key: keyInput.value.trim(), backend: backendSelect.value, route: routeSelect.value,
      ok: outcome === "ok" ? "true" : outcome === "failed" ? "false" : "", status: codeInput.value,
    };
  }

  function paint(page) {
    const records = page.data;
    const shown = COLUMNS.filter(([key, , , optional]) => !optional || records.some((r) => r[key] !== undefined && r[key] !== null));
    const rows = records.map((record) => h("tr", { dataset: { requestId: record.request_id, backend: record.backend }, class: record.ok ? null : "failed" },
      shown.map(([key, , text]) => key === "id"
        ? h("td", { class: "mono" }, h("button", { type: "button", class: "link", dataset: { action: "explain" },
            "aria-label": `Explain ${record.id}`, onclick: () => open(record) }, record.id))
        : h("td", { dataset: { field: key }, class: ["ttft_ms", "latency_ms", "cost"].includes(key) ? "num" : null }, text(record)))));
    replace(tableBox, records.length === 0 ? h("p", null, "No records match.") :
      h("table", { id: "requests-table" },
        h("caption", null, "Ledger records, newest first: one per upstream attempt"),
        h("thead", null, h("tr", null, shown.map(([key, title]) => h("th", { scope: "col", dataset: { field: key } }, title)))),
        h("tbody", null, rows)));
    const cameBack = state.cursor.before !== undefined;
    newer.disabled = !(state.cursor.after !== undefined || (cameBack && page.has_more));
    older.disabled = !((!cameBack && page.has_more) || (cameBack && records.length > 0));
    pageInfo.textContent = records.length ? `Showing ${records.length} records, ${records[0].id} to ${records[records.length - 1].id}` : "";
  }

  async function load(cursor, quiet) {
    state.cursor = cursor;
    try {
      const page = await api.get("/admin/usage", { ...filters(), ...cursor, limit: pageSize.value });
      Object.assign(state, { first_id: page.first_id, last_id: page.last_id, has_more: page.has_more });
      paint(page);
      replace(problem);
    } catch (error) {
      replace(problem, errorLine(error));
      if (quiet) throw error;
    }
  }

  async function open(record) {
    state.open = record.id;
    const explanation = h("div", { role: "status" }, "Loading the routing explanation…");
    replace(detail,
      h("h2", { id: "detail-title" }, `Request ${record.request_id}, attempt ${record.attempt}`),
      h("button", { type: "button", class: "secondary", onclick: () => { detail.hidden = true; } }, "Close"),
      h("h3", null, "Record"), fieldList(record),
      h("h3", null, "Routing explanation"), explanation);
    detail.hidden = false;
    detail.focus();
    try {
      const kept = await api.get(`/admin/requests/${encodeURIComponent(record.request_id)}/explanation`);
      replace(explanation, h("p", null, `Decided at ${utc(kept.decided_at)} (stored when the request was routed).`),
        decisionView(kept.decision));
      explanation.removeAttribute("role");
    } catch (error) {
      replace(explanation, errorLine(error));
    }
  }

  (async () => {
    try {
      const [status, view] = await Promise.all([api.get("/admin/status"), api.get("/admin/policy")]);
      for (const name of Object.keys(status.backends)) backendSelect.append(h("option", { value: name }, name));
      for (const route of view.policy.routes ?? []) routeSelect.append(h("option", { value: route.name }, route.name));
    } catch (error) {
      replace(problem, errorLine(error));
    }
  })();
  load({});
  let stopFollowing = null;
  follow.addEventListener("change", () => {
    if (stopFollowing) stopFollowing();
    stopFollowing = follow.checked ? poll(() => load({}, true), FOLLOW_MS) : null;
  });
  return () => { if (stopFollowing) stopFollowing(); };
}

