// Building the page: elements from plain values (text nodes only, never HTML strings), polling.

/** `h("td", {class: "num"}, "42")`: attributes `on*` add listeners, `dataset` sets data-*, false/null skip. */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

/** A labelled form field: `<div class="field"><label for=id>text</label><input id=id ...></div>`. */
export function field(label, control, help) {
  const helpId = help ? `${control.id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("div", { class: "field" }, h("label", { for: control.id }, label), control,
    help ? h("span", { class: "hint", id: helpId }, help) : null);
}

export function select(id, options, value) {
  const element = h("select", { id, name: id });
  for (const option of options) {
    const [optionValue, text] = Array.isArray(option) ? option : [option, option];
    element.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return element;
}

/** A table with a caption; `columns` are [key, title, className?]; rows are arrays of cells (nodes or text). */
export function table(caption, columns, rows, attributes) {
  return h("table", attributes,
    h("caption", null, caption),
    h("thead", null, h("tr", null, columns.map(([key, title, className]) =>
      h("th", { scope: "col", class: className, dataset: { field: key } }, title)))),
    h("tbody", null, rows.map((cells) => h("tr", null, cells.map((cell, i) =>
      cell instanceof HTMLTableCellElement ? cell : h("td", { class: columns[i]?.[2], dataset: { field: columns[i]?.[0] } }, cell))))));
}

export function errorLine(error) {
  return h("p", { class: "error", role: "alert" }, error instanceof Error ? error.message : String(error));
}

/**
 * Call `tick` now and then every `intervalMs` after each call settles (never two at once), while
 * the tab is visible. Returns the function that stops it.
 */
export function poll(tick, intervalMs) {
  let timer = null;
  let stopped = false;
  const run = async () => {
    timer = null;
    if (stopped) return;
    if (!document.hidden) {
      try {
        await tick();
      } catch {
        // the tick shows its own error; keep polling
      }
    }
    if (!stopped) timer = setTimeout(run, intervalMs);
  };
  run();
  return () => {
    stopped = true;
    if (timer !== null) clearTimeout(timer);
  };
}
