// How numbers are written on the page.

const NANO_PER_USD = 1_000_000_000;
export const DASH = "–";

/** Whole nano-USD as dollars with 9 decimals, exactly (integer arithmetic, as `gateway spend` prints them). */
export function usdFromNano(nano) {
  if (nano === null || nano === undefined) return DASH;
  const sign = nano < 0 ? "-" : "";
  const magnitude = Math.abs(nano);
  const whole = Math.trunc(magnitude / NANO_PER_USD);
  const fraction = magnitude - whole * NANO_PER_USD;
  return `${sign}${whole}.${String(fraction).padStart(9, "0")}`;
}

/** Dollars for reading: `$1,234.56`, small amounts with more digits. */
export function usd(value, digits) {
  if (value === null || value === undefined) return DASH;
  const places = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 1 ? 2 : 6);
  return (value < 0 ? "-$" : "$") + Math.abs(value).toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
}

export function count(value) {
  return value === null || value === undefined ? DASH : Number(value).toLocaleString("en-US");
}

export function ms(value) {
  return value === null || value === undefined ? DASH : `${Math.round(value).toLocaleString("en-US")} ms`;
}

export function percent(fraction) {
  return fraction === null || fraction === undefined ? DASH : `${(fraction * 100).toFixed(0)}%`;
}

/** An ISO time as `2025-11-24 16:00:01Z` (the ledger's clock is UTC). */
export function utc(iso) {
  if (!iso) return DASH;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : `${date.toISOString().slice(0, 19).replace("T", " ")}Z`;
}

/** SI-style short numbers for chart axes: 1.2k, 34M, 5G. */
export function short(value) {
  const magnitude = Math.abs(value);
  for (const [limit, suffix] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
    if (magnitude >= limit) return `${+(value / limit).toPrecision(3)}${suffix}`;
  }
  return `${+value.toPrecision(3)}`;
}

/** Any record value as text: arrays joined, booleans as yes/no, objects as JSON. */
export function plain(value) {
  if (value === null || value === undefined) return DASH;
  if (Array.isArray(value)) return value.map(plain).join(" → ");
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
