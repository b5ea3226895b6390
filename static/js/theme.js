// Chart colours matching app.css (dark theme).
import { ColorType } from "/static/vendor/lightweight-charts.mjs";

export const UP = "#0ecb81";
export const DOWN = "#f6465d";
export const LINE = "#2b3139";

/** `hex` ("#rrggbb") with opacity `a`, as an rgba() colour. */
export function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${a})`;
}

export function chartTheme() {
  return {
    layout: {
      background: { type: ColorType.Solid, color: "#161a1e" },
      textColor: "#848e9c",
      fontSize: 11,
      fontFamily: '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Arial, sans-serif',
    },
    grid: { vertLines: { color: "#1f242a" }, horzLines: { color: "#1f242a" } },
    crosshair: { vertLine: { color: "#5e6673", labelBackgroundColor: LINE },
      horzLine: { color: "#5e6673", labelBackgroundColor: LINE } },
  };
}
