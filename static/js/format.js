// Exact decimal text <-> BigInt units, and the display helpers every widget shares.
// Money never passes through a float here: a decimal string becomes an integer count of
// 10^-d units, arithmetic happens on BigInt, and the result is printed back as text.

const DECIMAL = /^\d+(\.\d+)?$/;

/** True if `text` is a plain non-negative decimal ("150", "150.25"); no sign, exponent or spaces. */
export function isDecimal(text) {
  return typeof text === "string" && DECIMAL.test(text);
}

/** Digits after the point of a decimal text ("0.01" -> 2, "1" -> 0). */
export function decimalsOf(text) {
  const dot = String(text).indexOf(".");
  return dot < 0 ? 0 : String(text).length - dot - 1;
}

/** Decimal text -> BigInt units of 10^-decimals, or null if it does not fit exactly. */
export function toUnits(text, decimals) {
  let s = String(text).trim();
  let sign = 1n;
  if (s.startsWith("-")) { sign = -1n; s = s.slice(1); }
  else if (s.startsWith("+")) s = s.slice(1);
  if (!DECIMAL.test(s)) return null;
  const [whole, frac = ""] = s.split(".");
  const trimmed = frac.replace(/0+$/, "");
  if (trimmed.length > decimals) return null;
  return sign * BigInt(whole + frac.padEnd(decimals, "0").slice(0, decimals));
}

/** BigInt units of 10^-decimals -> decimal text with exactly `decimals` digits after the point. */
export function fromUnits(units, decimals) {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (decimals > 0) {
    digits = digits.padStart(decimals + 1, "0");
    digits = `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
  }
  return negative ? `-${digits}` : digits;
}

/** Drop trailing zeros after the point ("1.5000" -> "1.5", "2.00" -> "2"). */
export function trimZeros(text) {
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/** a x b exactly, printed with the digits both carry. */
export function multiply(a, b) {
  const da = decimalsOf(a);
  const db = decimalsOf(b);
  const ua = toUnits(a, da);
  const ub = toUnits(b, db);
  if (ua === null || ub === null) return null;
  return fromUnits(ua * ub, da + db);
}

/**
 * floor(available x pct / 100 / divisor / step) x step, exactly: the most a percentage of a
 * balance buys (divisor = the price) or sells (divisor = "1"), on the market's step grid.
 */
export function pctOfBalance(available, pct, divisor, step) {
  const da = decimalsOf(available);
  const dp = decimalsOf(divisor);
  const ds = decimalsOf(step);
  const a = toUnits(available, da);
  const p = toUnits(divisor, dp);
  const s = toUnits(step, ds);
  if (a === null || p === null || s === null || p === 0n || s === 0n) return null;
  // steps = floor(a/10^da * pct/100 / (p/10^dp) / (s/10^ds))
  const num = a * BigInt(pct) * 10n ** BigInt(dp) * 10n ** BigInt(ds);
  const den = 100n * 10n ** BigInt(da) * p * s;
  const steps = num / den;
  return fromUnits(steps * s, ds);
}

/** "+1.25%" / "-0.40%" / "0.00%" from the API's priceChangePercent. */
export function changeText(pct) {
  if (pct === null || pct === undefined) return "0.00%";
  return `${!pct.startsWith("-") && /[1-9]/.test(pct) ? "+" : ""}${pct}%`;
}

/** "up", "down" or "" for a signed decimal text. */
export function direction(change) {
  if (!change || !/[1-9]/.test(change)) return "";
  return change.startsWith("-") ? "down" : "up";
}

const pad = (n) => String(n).padStart(2, "0");

/** Local time of day, HH:MM:SS. */
export function timeOfDay(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local date and time, YYYY-MM-DD HH:MM:SS. */
export function dateTime(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${timeOfDay(ms)}`;
}

/** Text safe inside HTML. */
export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** A capitalised word ("buy" -> "Buy"). */
export function cap(word) {
  return word ? word[0].toUpperCase() + word.slice(1).toLowerCase() : "";
}

/** The JSON the server put into the page (`<script type="application/json" id="page-data">`). */
export function pageData() {
  const el = document.getElementById("page-data");
  return el ? JSON.parse(el.textContent) : {};
}
