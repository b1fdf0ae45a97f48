// Backends: each backend's live state (GET /admin/status, every second) and the newest routed
// attempts (GET /admin/usage); in demo mode, stop and start the emulated backends.

import * as api from "../api.js";
import { h, poll, replace } from "../dom.js";
import { DASH, count, ms, percent, plain, utc } from "../format.js";

export const TITLE = "Backends";
const REFRESH_MS = 1000;
const RECENT = 12;

const COLUMNS = [
  ["backend", "Backend"], ["model", "Model"], ["health", "Health"], ["circuit", "Circuit"],
  ["in_flight", "In flight", "num"], ["waiting", "Queue", "num"], ["running", "Running", "num"], ["kv_usage", "KV cache", "num"],
  ["ttft_p95_ms", "p95 TTFT", "num"], ["tpot_p95_ms", "p95 TPOT", "num"], ["price", "USD/Mtok in · cached · out", "num"],
];

function priceText(price) {
  if (!price) return "unpriced";
  const cached = price.cached_input_usd_per_mtok ?? price.input_usd_per_mtok;
  return `${price.input_usd_per_mtok} · ${cached} · ${price.output_usd_per_mtok}`;
}

function badge(text, good) {
  return h("span", { class: `badge ${good ? "ok" : "bad"}` }, text);
}

export function render(container, { session }) {
  const summary = h("p", { class: "summary", role: "status", "aria-live": "polite" }, "Loading…");
  const problem = h("div");  // the last refresh's failure
  const actionProblem = h("div");  // the last stop/start's failure
  const head = h("tr", null, COLUMNS.map(([key, title, cls]) => h("th", { scope: "col", class: cls, dataset: { field: key } }, title)),
    session.demo ? h("th", { scope: "col" }, "Demo") : null);
  const body = h("tbody");
  const recentBody = h("tbody");
  replace(container,
    h("h1", null, TITLE),
    summary, problem, actionProblem,
    h("div", { class: "table-box" },
      h("table", { id: "backends-table" }, h("caption", null, "Live state of each backend, updated every second"), h("thead", null, head), body)),
    h("h2", null, "Live routing"),
    h("div", { class: "table-box" }, h("table", { id: "recent-table" },
      h("caption", null, "The newest upstream attempts: where each request went"),
      h("thead", null, h("tr", null, ["Time", "Record", "Route", "Backend", "Fallback chain", "Status", "Latency"].map((t) => h("th", { scope: "col" }, t)))),
      recentBody)));

  const rows = new Map();  // backend name -> {row, cells, button}
  const demoRunning = new Map();
  const busy = new Set();

  function rowFor(name) {
    let entry = rows.get(name);
    if (entry) return entry;
    const cells = Object.fromEntries(COLUMNS.map(([key, , cls]) => [key, h(key === "backend" ? "th" : "td", { class: cls, dataset: { field: key }, scope: key === "backend" ? "row" : null })]));
    const row = h("tr", { dataset: { backend: name } }, COLUMNS.map(([key]) => cells[key]));
    let button = null;
    if (session.demo) {
      button = h("button", { type: "button", class: "secondary", dataset: { action: "toggle" }, onclick: () => toggle(name) }, "…");
      row.append(h("td", null, button));
    }
    entry = { row, cells, button };
    rows.set(name, entry);
    body.append(row);
    return entry;
  }

  function paintButton(name) {
    const entry = rows.get(name);
    if (!entry || !entry.button) return;
    const running = demoRunning.get(name);
    if (running === undefined) {
      entry.button.hidden = true;
      return;
    }
    entry.button.hidden = false;
    entry.button.disabled = busy.has(name);
    entry.button.textContent = busy.has(name) ? (running ? "Stopping…" : "Starting…") : running ? "Stop" : "Start";
    entry.button.setAttribute("aria-label", `${running ? "Stop" : "Start"} ${name}`);
  }

  async function toggle(name) {
    const running = demoRunning.get(name);
    busy.add(name);
    paintButton(name);
    try {
      const status = await api.post(`/admin/demo/backends/${encodeURIComponent(name)}/${running ? "stop" : "start"}`);
      demoRunning.set(name, status.running);
      replace(actionProblem);
    } catch (error) {
      replace(actionProblem, h("p", { class: "error", role: "alert" }, `${name}: ${error.message}`));
    } finally {
      busy.delete(name);
      paintButton(name);
      refresh();
    }
  }

  function paint(status) {
    let healthy = 0;
    for (const [name, state] of Object.entries(status.backends)) {
      const { cells } = rowFor(name);
      const up = state.healthy && !state.circuit_open;
      if (up) healthy += 1;
      replace(cells.backend, name, h("span", { class: "sub" }, state.type));
      cells.model.textContent = state.model;
      replace(cells.health, badge(state.healthy ? "healthy" : "unhealthy", state.healthy));
      cells.health.title = state.probe_error ? `last probe: ${state.probe_error}` : state.probed_at ? `probed ${utc(state.probed_at)}` : "";
      replace(cells.circuit, badge(state.circuit.replace("_", "-"), state.circuit === "closed"));
      cells.in_flight.textContent = count(state.in_flight);
      cells.waiting.textContent = count(state.waiting);
      cells.running.textContent = count(state.running);
      cells.kv_usage.textContent = percent(state.kv_usage);
      cells.ttft_p95_ms.textContent = ms(state.ttft_p95_ms);
      cells.tpot_p95_ms.textContent = ms(state.tpot_p95_ms);
      cells.price.textContent = priceText(state.price);
      cells.price.title = state.price ? state.price.source : "no price known";
    }
    const total = Object.keys(status.backends).length;
    summary.textContent = `${healthy} of ${total} backends healthy with a closed circuit · policy ${status.policy.source.split("/").pop()}`;
    summary.title = status.policy.source;
  }

  function paintRecent(records) {
    replace(recentBody, records.length === 0
      ? h("tr", null, h("td", { colspan: 7 }, "No requests yet."))
      : records.map((record) => h("tr", { dataset: { requestId: record.request_id, backend: record.backend } },
        h("td", null, utc(record.time)), h("td", { class: "mono" }, record.id), h("td", null, record.route ?? DASH),
        h("td", { dataset: { field: "backend" } }, record.backend), h("td", null, plain(record.fallback_chain)),
        h("td", null, badge(record.ok ? String(record.status) : `${record.status} ${record.error_kind ?? ""}`, record.ok)),
        h("td", { class: "num" }, ms(record.latency_ms)))));
  }

  async function refresh() {
    try {
      const [status, recent, demo] = await Promise.all([
        api.get("/admin/status"), api.get("/admin/usage", { limit: RECENT }),
        session.demo ? api.get("/admin/demo/backends") : Promise.resolve([]),
      ]);
      for (const entry of demo) demoRunning.set(entry.backend, entry.running);
      paint(status);
      for (const name of rows.keys()) paintButton(name);
      paintRecent(recent.data);
      replace(problem);
    } catch (error) {
      replace(problem, h("p", { class: "error", role: "alert" }, error.message));
      throw error;
    }
  }

  return poll(refresh, REFRESH_MS);
}
