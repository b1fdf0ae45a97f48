// Keys: list client keys (never their digests), create one with a budget, rate and tags (its
// plaintext shown once), and revoke created ones.

import * as api from "../api.js";
import { errorLine, field, h, replace } from "../dom.js";
import { DASH, usd } from "../format.js";

export const TITLE = "Keys";

function number(id, attributes) {
  return h("input", { id, type: "number", inputmode: "decimal", ...attributes });
}

function valueOf(input) {
  return input.value === "" ? null : Number(input.value);
}

export function render(container) {
  const name = h("input", { id: "key-name", type: "text", required: true, autocomplete: "off", pattern: "[A-Za-z0-9][A-Za-z0-9._:\\/\\-]*", maxlength: 128 });
  const tags = h("input", { id: "key-tags", type: "text", autocomplete: "off" });
  const daily = number("key-daily", { min: 0, step: "any" });
  const monthly = number("key-monthly", { min: 0, step: "any" });
  const rpm = number("key-rpm", { min: 1, step: 1, inputmode: "numeric" });
  const tpm = number("key-tpm", { min: 1, step: 1, inputmode: "numeric" });
  const created = h("section", { id: "key-created", class: "notice", hidden: true, tabindex: "-1", "aria-labelledby": "key-created-title" });
  const problem = h("div");
  const listBox = h("div", { class: "table-box" });
  const form = h("form", { id: "key-form", class: "filters", onsubmit: create },
    field("Name", name, "Letters, digits and . _ : / -; what logs, metrics and the ledger call the key."),
    field("Tags", tags, "Comma-separated; routes can test them (when.key_tags)."),
    field("Daily budget (USD)", daily), field("Monthly budget (USD)", monthly),
    field("Requests per minute", rpm), field("Tokens per minute", tpm),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Create key")));
  replace(container, h("h1", null, TITLE), problem, listBox, h("h2", null, "Create a key"),
    h("p", { class: "hint" }, "A gateway on a loopback address with no client key serves requests without one (the demo does); "
      + "once a key exists every request needs one, until the last created key is revoked."),
    form, created);

  async function create(event) {
    event.preventDefault();
    try {
      const answer = await api.post("/admin/keys", {
        name: name.value.trim(), tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean),
        daily_usd: valueOf(daily), monthly_usd: valueOf(monthly), rpm: valueOf(rpm), tpm: valueOf(tpm),
      });
      form.reset();
      const plaintext = h("code", { id: "key-plaintext", class: "secret" }, answer.key);
      const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
        try {
          await navigator.clipboard.writeText(answer.key);
          copy.textContent = "Copied";
        } catch {
          copy.textContent = "Select the key and copy it";
        }
      } }, "Copy");
      replace(created,
        h("h2", { id: "key-created-title" }, `Key ${answer.name} created`),
        h("p", null, "Copy it now: this is the only time it is shown. The gateway keeps only its SHA-256 digest (in ", answer.stored_in, ")."),
        h("p", null, plaintext, " ", copy),
        h("button", { type: "button", onclick: () => { replace(created); created.hidden = true; } }, "Done, I have copied it"));
      created.hidden = false;
      created.focus();
      replace(problem);
      await list();
    } catch (error) {
      replace(problem, errorLine(error));
    }
  }

  function revokeButton(key) {
    const cell = h("td");
    const ask = () => replace(cell,
      h("button", { type: "button", class: "danger", dataset: { action: "confirm-revoke" }, onclick: () => revoke(key.name) }, `Revoke ${key.name} now`),
      " ",
      h("button", { type: "button", class: "secondary", onclick: () => replace(cell, first()) }, "Cancel"));
    const first = () => h("button", { type: "button", class: "secondary", dataset: { action: "revoke" },
      "aria-label": `Revoke ${key.name}`, onclick: () => { ask(); cell.querySelector("button").focus(); } }, "Revoke");
    replace(cell, key.revocable ? first() : h("span", { class: "hint" }, "in the policy file"));
    return cell;
  }

  async function revoke(keyName) {
    try {
      await api.del(`/admin/keys/${encodeURIComponent(keyName)}`);
      replace(problem, h("p", { role: "status" }, `Key ${keyName} revoked: requests with it now get 401.`));
      await list();
    } catch (error) {
      replace(problem, errorLine(error));
    }
  }

  async function list() {
    try {
      const keys = (await api.get("/admin/keys")).data;
      replace(listBox, keys.length === 0 ? h("p", null, "No client keys: on a loopback address the gateway serves requests without one.") :
        h("table", { id: "keys-table" },
          h("caption", null, "Client keys (names only: the gateway keeps digests, never the keys)"),
          h("thead", null, h("tr", null, ["Name", "Source", "Tags", "Daily budget", "Monthly budget", "Total budget", "Remaining", "RPM", "TPM", ""]
            .map((title) => h("th", { scope: "col" }, title)))),
          h("tbody", null, keys.map((key) => h("tr", { dataset: { key: key.name } },
            h("th", { scope: "row" }, key.name), h("td", null, key.source), h("td", null, key.tags.join(", ") || DASH),
            h("td", { class: "num" }, usd(key.daily_usd, 2)), h("td", { class: "num" }, usd(key.monthly_usd, 2)),
            h("td", { class: "num" }, usd(key.total_usd, 2)), h("td", { class: "num" }, usd(key.remaining_usd, 4)),
            h("td", { class: "num" }, key.rpm ?? DASH), h("td", { class: "num" }, key.tpm ?? DASH), revokeButton(key))))));
    } catch (error) {
      replace(problem, errorLine(error));
    }
  }

  list();
  return null;
}
