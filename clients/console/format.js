// format.js — how numbers read in the console. Pure: no DOM.
// Money arrives as exact decimal strings and is shown as sent (no float rounding);
// counts arrive as strings too (proto3 JSON writes int64 that way).

// count reads an int64 (string or number) as a Number; counts here stay far below 2^53.
export function count(value) {
  const number = Number(value ?? 0);
  return Number.isFinite(number) ? number : 0;
}

// grouped writes a count with thousands separators.
export function grouped(value) {
  return count(value).toLocaleString("en-US");
}

// percent writes a ratio (0.0123) as "1.23%".
export function percent(ratio) {
  return `${(Number(ratio || 0) * 100).toFixed(2)}%`;
}

// money shows an exact decimal string as sent; empty means 0.
export function money(value) {
  return value === undefined || value === null || value === "" ? "0" : String(value);
}

// clock writes an instant as local HH:MM (for chart axes).
export function clock(instant) {
  const date = new Date(instant);
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

// shortPercent writes a ratio for an axis: "12%", "2.5%", "0%".
export function shortPercent(ratio) {
  const value = Number(ratio || 0) * 100;
  return `${Number(value.toFixed(value >= 10 || value === 0 ? 0 : 1))}%`;
}

// axisNumber writes an axis value with two significant digits, never in e-notation.
export function axisNumber(value) {
  return Number(value || 0).toLocaleString("en-US", { maximumSignificantDigits: 2 });
}
