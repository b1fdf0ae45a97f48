// Policy: the policy in force (secrets redacted), its last reload and error, and an explain form
// (POST /admin/explain) that shows where a pasted chat request would go now, and why.

import * as api from "../api.js";
import { errorLine, field, h, replace, select } from "../dom.js";
import { plain, utc } from "../format.js";
import { decisionView } from "./decision_view.js";

export const TITLE = "Policy";
const SAMPLE = {
  model: "auto",
  messages: [{ role: "user", content: "Summarise the last meeting in three bullet points." }],
  max_tokens: 200,
};

export function render(container) {
  const statusBox = h("div", { role: "status" }, "Loading…");
  const yamlBox = h("pre", { class: "policy-yaml", id: "policy-yaml", tabindex: "0", "aria-label": "The policy in force, secrets redacted" });
  const body = h("textarea", { id: "explain-body", rows: 10, spellcheck: "false" }, JSON.stringify(SAMPLE, null, 2));
  const keySelect = select("explain-key", [["", "(no key)"]], "");
  const result = h("div", { id: "explain-result", "aria-live": "polite" });
  const form = h("form", { id: "explain-form", class: "filters", onsubmit: explain },
    field("Chat completions body (JSON)", body, "Pasted as a client would send it to /v1/chat/completions; no backend is called."),
    field("As client key", keySelect, "Routes may depend on the key's tags and remaining budget."),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Explain")));
  replace(container, h("h1", null, TITLE), statusBox,
    h("h2", null, "Explain a request"), form, result,
    h("h2", null, "Policy in force"), yamlBox);

  async function explain(event) {
    event.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(body.value);
    } catch (error) {
      replace(result, errorLine(`The body is not valid JSON: ${error.message}`));
      return;
    }
    replace(result, h("p", null, "Explaining…"));
    try {
      const report = await api.post("/admin/explain", { request: parsed, key: keySelect.value || null });
      replace(result, h("h3", null, `Route ${report.route ?? "(none)"}: ${plain(report.chain)}`), decisionView(report));
    } catch (error) {
      replace(result, errorLine(error));
    }
  }

  (async () => {
    try {
      const [view, keys] = await Promise.all([api.get("/admin/policy"), api.get("/admin/keys")]);
      const status = view.status;
      const error = status.last_reload_error;
      replace(statusBox, h("dl", { class: "fields" },
        h("dt", null, "Source"), h("dd", { class: "mono" }, status.source),
        h("dt", null, "Loaded"), h("dd", null, utc(status.loaded_at)),
        h("dt", null, "Watched for changes"), h("dd", null, status.watching ? "yes (hot reload)" : "no"),
        h("dt", null, "Reloads since start"), h("dd", { dataset: { field: "reloads" } }, String(status.reloads)),
        h("dt", null, "File SHA-256"), h("dd", { class: "mono" }, status.sha256 ?? "–"),
        h("dt", null, "Last reload error"),
        h("dd", { dataset: { field: "last_reload_error" } }, error
          ? h("div", { role: "alert" }, h("p", null, `Rejected at ${utc(error.at)}; the previous policy still serves:`), h("pre", { class: "error" }, error.message))
          : "none")));
      yamlBox.textContent = view.yaml;
      for (const key of keys.data) keySelect.append(h("option", { value: key.name }, key.name));
    } catch (error) {
      replace(statusBox, errorLine(error));
    }
  })();
  return null;
}
