// Small SVG charts, drawn here (no library): grouped bars and lines on a linear or log x axis.
// Colours come from the stylesheet (`.series-N`); each chart is an image with a text label, and
// the page shows the same figures in a table beside it.

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 720;
const HEIGHT = 280;
const MARGIN = { top: 16, right: 16, bottom: 48, left: 72 };

function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  for (const child of children) if (child) element.append(child instanceof Node ? child : String(child));
  return element;
}

/** About `count` round tick values covering [low, high]. */
export function niceTicks(low, high, count = 5) {
  if (!(high > low)) return [low];
  const rough = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks = [];
  for (let value = Math.ceil(low / step) * step; value <= high + step * 1e-9; value += step) ticks.push(+value.toPrecision(12));
  return ticks;
}

function frame(title, description) {
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart", "aria-label": title });
  root.append(svg("title", null, title));
  if (description) root.append(svg("desc", null, description));
  return root;
}

function legend(series) {
  const box = document.createElement("ul");
  box.className = "legend";
  series.forEach((item, index) => {
    const entry = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = `swatch series-${index % 6}`;
    swatch.setAttribute("aria-hidden", "true");
    entry.append(swatch, item.label);
    box.append(entry);
  });
  return box;
}

function yAxis(root, ticks, y, format) {
  for (const tick of ticks) {
    root.append(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(tick), y2: y(tick), class: "grid" }));
    root.append(svg("text", { x: MARGIN.left - 6, y: y(tick) + 4, class: "tick", "text-anchor": "end" }, format(tick)));
  }
}

/**
 * Grouped bars: one group per category, one bar per series.
 * `series`: [{label, values: [number per category]}].
 */
export function barChart({ title, categories, series, format }) {
  const root = frame(title, `${series.map((s) => s.label).join(" and ")} for each of ${categories.join(", ")}`);
  const top = Math.max(0, ...series.flatMap((s) => s.values));
  const bottom = Math.min(0, ...series.flatMap((s) => s.values));
  const ticks = niceTicks(bottom, top || 1);
  const high = Math.max(ticks[ticks.length - 1], top || 1);
  const low = Math.min(ticks[0], bottom);
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const y = (value) => MARGIN.top + plotHeight * (1 - (value - low) / (high - low));
  yAxis(root, ticks, y, format);
  const groupWidth = (WIDTH - MARGIN.left - MARGIN.right) / Math.max(categories.length, 1);
  const barWidth = Math.max(2, (groupWidth * 0.8) / Math.max(series.length, 1));
  categories.forEach((category, c) => {
    const left = MARGIN.left + c * groupWidth + groupWidth * 0.1;
    series.forEach((item, s) => {
      const value = item.values[c] ?? 0;
      const bar = svg("rect", {
        x: left + s * barWidth, width: barWidth - 1, y: Math.min(y(value), y(0)), height: Math.abs(y(0) - y(value)),
        class: `bar series-${s % 6}`,
      }, svg("title", null, `${category}, ${item.label}: ${format(value)}`));
      root.append(bar);
    });
    const label = category.length > 16 ? `${category.slice(0, 15)}…` : category;
    root.append(svg("text", { x: left + groupWidth * 0.4, y: HEIGHT - MARGIN.bottom + 16, class: "tick", "text-anchor": "middle" }, label));
  });
  root.append(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(0), y2: y(0), class: "axis" }));
  return wrap(root, series);
}

/** Powers of ten within [low, high] (at least the two ends when no power falls inside). */
function decadeTicks(low, high) {
  const first = Math.ceil(Math.log10(low));
  const last = Math.floor(Math.log10(high));
  return last >= first ? Array.from({ length: last - first + 1 }, (_, i) => 10 ** (first + i)) : [low, high];
}

/**
 * Lines over a shared x axis. `series`: [{label, x: [..], y: [..], step}]; `logX` and `logY` space
 * an axis by its logarithm (traffic volumes and costs span decades); `step` draws a staircase.
 */
export function lineChart({ title, series, logX, logY, formatX, formatY, labelX, labelY }) {
  const root = frame(title, `${series.map((s) => s.label).join(", ")} against ${labelX}`);
  const xs = series.flatMap((s) => s.x).filter((v) => !logX || v > 0);
  const ys = series.flatMap((s) => s.y).filter((v) => !logY || v > 0);
  const xLow = Math.min(...xs);
  const xHigh = Math.max(...xs);
  const ticksY = logY ? decadeTicks(Math.min(...ys), Math.max(...ys)) : niceTicks(0, Math.max(...ys, 1));
  const yLow = logY ? Math.min(...ys, ticksY[0]) : 0;
  const yHigh = Math.max(ticksY[ticksY.length - 1], ...ys);
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const scaleX = logX ? (v) => Math.log10(v) : (v) => v;
  const scaleY = logY ? (v) => Math.log10(v) : (v) => v;
  const x = (value) => MARGIN.left + plotWidth * ((scaleX(value) - scaleX(xLow)) / ((scaleX(xHigh) - scaleX(xLow)) || 1));
  const y = (value) => MARGIN.top + plotHeight * (1 - (scaleY(value) - scaleY(yLow)) / ((scaleY(yHigh) - scaleY(yLow)) || 1));
  yAxis(root, ticksY, y, formatY);
  const ticksX = logX ? decadeTicks(xLow, xHigh) : niceTicks(xLow, xHigh);
  for (const tick of ticksX) {
    root.append(svg("line", { x1: x(tick), x2: x(tick), y1: MARGIN.top, y2: HEIGHT - MARGIN.bottom, class: "grid" }));
    root.append(svg("text", { x: x(tick), y: HEIGHT - MARGIN.bottom + 16, class: "tick", "text-anchor": "middle" }, formatX(tick)));
  }
  root.append(svg("text", { x: MARGIN.left + plotWidth / 2, y: HEIGHT - 8, class: "axis-label", "text-anchor": "middle" }, labelX));
  root.append(svg("text", { x: 14, y: MARGIN.top + plotHeight / 2, class: "axis-label", "text-anchor": "middle",
    transform: `rotate(-90 14 ${MARGIN.top + plotHeight / 2})` }, labelY));
  series.forEach((item, index) => {
    const points = [];
    item.x.forEach((value, i) => {
      if ((logX && value <= 0) || (logY && item.y[i] <= 0)) return;
      const px = x(value).toFixed(1);
      const py = y(item.y[i]).toFixed(1);
      if (item.step && points.length) points.push(`${px},${points[points.length - 1].split(",")[1]}`);
      points.push(`${px},${py}`);
    });
    root.append(svg("polyline", { points: points.join(" "), class: `line series-${index % 6}` }, svg("title", null, item.label)));
  });
  root.append(svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(yLow), y2: y(yLow), class: "axis" }));
  return wrap(root, series);
}

function wrap(chart, series) {
  const figure = document.createElement("figure");
  figure.className = "chart-box";
  figure.append(chart, legend(series));
  return figure;
}
