// Chart colours matching app.css (dark theme).
import { ColorType } from "/static/vendor/lightweight-charts.mjs";

export const UP = "#0ecb81";
export const DOWN = "#f6465d";

export function chartTheme() {
  return {
    layout: {
      background: { type: ColorType.Solid, color: "#161a1e" },
      textColor: "#848e9c",
      fontSize: 11,
      fontFamily: '-apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Arial, sans-serif',
    },
    grid: { vertLines: { color: "#1f242a" }, horzLines: { color: "#1f242a" } },
    crosshair: { vertLine: { color: "#5e6673", labelBackgroundColor: "#2b3139" },
      horzLine: { color: "#5e6673", labelBackgroundColor: "#2b3139" } },
  };
}
