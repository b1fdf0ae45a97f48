// Planner: `planner estimate` and `planner plan` run by the gateway in a worker thread
// (POST /admin/planner/estimate|plan), with the monthly cost against traffic drawn for the
// deployment found, beside each managed provider's.

import * as api from "../api.js";
import { lineChart } from "../charts.js";
import { errorLine, field, h, replace, select } from "../dom.js";
import { plain, short, usd } from "../format.js";
import { fieldList } from "./decision_view.js";

export const TITLE = "Planner";

function number(id, value, attributes) {
  return h("input", { id, type: "number", value, step: "any", inputmode: "decimal", ...attributes });
}

function optional(input) {
  return input.value === "" ? null : Number(input.value);
}

function costChart(curve) {
  if (!curve) return h("p", { class: "hint" }, "No cost curve: nothing fits or nothing is priced.");
  const crossings = curve.break_even_tokens_per_day ?? {};
  const managedLabel = (line) => {
    const crossing = crossings[line.label];
    return crossing === null || crossing === undefined ? `${line.label}: cheaper throughout` : `${line.label}: break-even ${short(crossing)} tokens/day`;
  };
  return lineChart({
    title: "Monthly cost against traffic: self-hosted (stepped, one more replica per step) and managed providers",
    series: [
      { label: `${curve.self_hosted.label} (self-hosted)`, x: curve.self_hosted.tokens_per_day, y: curve.self_hosted.monthly_usd, step: true },
      ...curve.managed.map((line) => ({ label: managedLabel(line), x: line.tokens_per_day, y: line.monthly_usd })),
    ],
    logX: true, logY: true, formatX: short, formatY: (v) => usd(v, 0), labelX: "tokens per day (input + output)", labelY: "USD per month",
  });
}

function managedTable(rows, caption) {
  if (!rows || rows.length === 0) return null;
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((k) => k !== "source");
  return h("div", { class: "table-box" }, h("table", { class: "managed" }, h("caption", null, caption),
    h("thead", null, h("tr", null, keys.map((k) => h("th", { scope: "col" }, k.replaceAll("_", " "))))),
    h("tbody", null, rows.map((row) => h("tr", { title: row.source ?? "" }, keys.map((k) => h("td", null,
      typeof row[k] === "number" && k.includes("usd") ? usd(row[k], 2) : plain(row[k]))))))));
}

export function render(container) {
  const problem = h("div");
  const estimateResult = h("div", { id: "estimate-result", "aria-live": "polite" });
  const planResult = h("div", { id: "plan-result", "aria-live": "polite" });
  const e = {
    model: select("est-model", ["deepseek-v3.2"], "deepseek-v3.2"), gpu: select("est-gpu", ["h200"], "h200"),
    gpus: h("input", { id: "est-gpus", type: "text", value: "auto", inputmode: "numeric" }),
    weights: select("est-weights", [["", "native"]], ""), engine: select("est-engine", ["vllm"], "vllm"),
    input: number("est-input", 2048, { min: 1 }), output: number("est-output", 512, { min: 1 }),
    concurrency: number("est-concurrency", "", { min: 1 }), rps: number("est-rps", "", { min: 0 }),
    cache: number("est-cache", 0, { min: 0, max: 1 }), utilization: number("est-utilization", 0.6, { min: 0.01, max: 1 }),
  };
  const p = {
    model: select("plan-model", ["deepseek-v3.2"], "deepseek-v3.2"),
    load: select("plan-load", [["rps", "requests per second"], ["tokens_per_day", "tokens per day"]], "rps"),
    amount: number("plan-amount", 5, { min: 0 }), input: number("plan-input", 2048, { min: 1 }), output: number("plan-output", 512, { min: 1 }),
    ttft: number("plan-ttft", "", { min: 1 }), tpot: number("plan-tpot", "", { min: 1 }),
    gpus: h("fieldset", { class: "checks", id: "plan-gpus" }, h("legend", null, "GPU types (none ticked: all)")),
    cache: number("plan-cache", 0, { min: 0, max: 1 }), top: number("plan-top", 5, { min: 1, max: 100, step: 1 }),
  };
  const estimateForm = h("form", { id: "estimate-form", class: "filters", onsubmit: estimate },
    field("Model", e.model), field("GPU", e.gpu), field("GPUs", e.gpus, "A count, or auto: the smallest that fits"),
    field("Weights", e.weights), field("Engine", e.engine), field("Input tokens", e.input), field("Output tokens", e.output),
    field("Concurrency", e.concurrency, "or requests per second; neither: full batch"), field("Requests per second", e.rps),
    field("Cache hit rate", e.cache), field("Utilization", e.utilization),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Estimate")));
  const planForm = h("form", { id: "plan-form", class: "filters", onsubmit: plan },
    field("Model", p.model), field("Load given as", p.load), field("Load", p.amount), field("Input tokens", p.input),
    field("Output tokens", p.output), field("SLO: p95 TTFT (ms)", p.ttft), field("SLO: TPOT (ms)", p.tpot),
    field("Cache hit rate", p.cache), field("Rows", p.top), p.gpus,
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Plan")));
  replace(container, h("h1", null, TITLE), problem,
    h("h2", null, "Estimate one deployment"), estimateForm, estimateResult,
    h("h2", null, "Plan the cheapest deployment for a workload"), planForm, planResult);

  async function running(box, form, work) {
    form.setAttribute("aria-busy", "true");
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    replace(box, h("p", null, "Working… (the gateway runs the planner in a worker thread)"));
    try {
      await work();
    } catch (error) {
      replace(box, errorLine(error));
    } finally {
      form.removeAttribute("aria-busy");
      for (const button of form.querySelectorAll("button")) button.disabled = false;
    }
  }

  function estimate(event) {
    event.preventDefault();
    const gpus = e.gpus.value.trim() === "auto" ? "auto" : Number(e.gpus.value);
    const body = {
      model: e.model.value, gpu: e.gpu.value, gpus, weights: e.weights.value || null, engine: e.engine.value,
      input_len: Number(e.input.value), output_len: Number(e.output.value), concurrency: optional(e.concurrency),
      rps: optional(e.rps), cache_hit_rate: Number(e.cache.value || 0), utilization: Number(e.utilization.value || 0.6),
    };
    running(estimateResult, estimateForm, async () => {
      const answer = await api.post("/admin/planner/estimate", body);
      const report = answer.report;
      const { managed, ...cost } = report.cost ?? {};
      replace(estimateResult,
        report.memory.fits ? null : h("p", { class: "error", role: "alert" }, `Does not fit: ${report.memory.reason}`),
        h("div", { class: "sections" },
          h("section", null, h("h3", null, "Deployment"), fieldList(report.deployment)),
          h("section", null, h("h3", null, "Memory"), fieldList(report.memory)),
          report.performance ? h("section", null, h("h3", null, "Performance"), fieldList(report.performance)) : null,
          report.cost ? h("section", null, h("h3", null, "Cost"), fieldList(cost)) : null),
        report.cost ? managedTable(managed, "Managed providers for the same traffic") : null,
        h("h3", null, "Cost against traffic"), costChart(answer.cost_curve));
    });
  }

  function plan(event) {
    event.preventDefault();
    const body = {
      model: p.model.value, input_len: Number(p.input.value), output_len: Number(p.output.value),
      ttft_p95_ms: optional(p.ttft), tpot_ms: optional(p.tpot), cache_hit_rate: Number(p.cache.value || 0), top: Number(p.top.value || 5),
      gpus: [...p.gpus.querySelectorAll("input:checked")].map((box) => box.value),
      [p.load.value]: Number(p.amount.value),
    };
    running(planResult, planForm, async () => {
      const answer = await api.post("/admin/planner/plan", body);
      const result = answer.result;
      const rows = result.best.map((c, i) => h("tr", null,
        h("td", { class: "num" }, String(i + 1)),
        h("td", null, `${c.deployment.gpus} x ${c.deployment.gpu} tp${c.deployment.tp} pp${c.deployment.pp} dp${c.deployment.dp}`),
        h("td", null, c.deployment.weights_dtype), h("td", null, c.engine), h("td", { class: "num" }, String(c.replicas)),
        h("td", { class: "num" }, c.tpot_ms.toFixed(1)), h("td", { class: "num" }, Math.round(c.ttft_p95_ms).toLocaleString("en-US")),
        h("td", { class: "num" }, usd(c.monthly_usd, 0)), h("td", { class: "num" }, usd(c.usd_per_million_tokens, 3))));
      replace(planResult,
        h("p", null, `${result.model}: ${result.requests_per_s.toPrecision(3)} req/s = ${short(result.tokens_per_day)} tokens/day; searched ${result.candidates_searched.toLocaleString("en-US")} candidates, ${result.candidates_fitting.toLocaleString("en-US")} fit, ${result.candidates_meeting_slo.toLocaleString("en-US")} meet the SLOs.`),
        result.explanation ? h("p", { role: "alert" }, result.explanation) : null,
        rows.length ? h("div", { class: "table-box" }, h("table", { id: "plan-table" }, h("caption", null, "Cheapest deployments meeting the SLOs"),
          h("thead", null, h("tr", null, ["#", "Deployment", "Weights", "Engine", "Replicas", "TPOT ms", "p95 TTFT ms", "USD/month", "USD/Mtok"]
            .map((t) => h("th", { scope: "col" }, t)))), h("tbody", null, rows))) : null,
        managedTable(result.managed, "Managed providers for the same traffic"),
        h("h3", null, "Cost against traffic, best deployment"), costChart(answer.cost_curve));
    });
  }

  (async () => {
    try {
      const options = await api.get("/admin/planner/options");
      replace(e.model, options.models.map((m) => h("option", { value: m, selected: m === "deepseek-v3.2" }, m)));
      replace(p.model, options.models.map((m) => h("option", { value: m, selected: m === "deepseek-v3.2" }, m)));
      replace(e.gpu, options.gpus.map((g) => h("option", { value: g, selected: g === "h200" }, g)));
      replace(e.engine, options.engines.map((g) => h("option", { value: g }, g)));
      e.weights.append(...options.weights.map((w) => h("option", { value: w }, w)));
      p.gpus.append(...options.gpus.map((g) => h("label", { class: "inline" }, h("input", { type: "checkbox", value: g }), ` ${g}`)));
    } catch (error) {
      replace(problem, errorLine(error));
    }
  })();
  return null;
}
