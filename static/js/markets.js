// Markets page: every row live from `ticker@S`; a click anywhere on a row opens its market.
import "./common.js";
import { get } from "./api.js";
import { changeText, direction } from "./format.js";
import { socket } from "./ws.js";

const table = document.getElementById("markets");

function setCell(row, cls, text, dir) {
  const cell = row.querySelector(`td.${cls}`);
  if (!cell) return;
  if (cell.textContent !== text && cls === "last") {
    cell.classList.remove("flash-up", "flash-down");
    void cell.offsetWidth; // restart the flash animation
    if (dir) cell.classList.add(`flash-${dir}`);
  }
  cell.textContent = text;
  if (dir !== undefined) {
    cell.classList.toggle("up", dir === "up");
    cell.classList.toggle("down", dir === "down");
  }
}

/** Paint one ticker (REST or stream shape: the same field names) into its row. */
export function paint(t) {
  const row = table.querySelector(`tr[data-symbol="${CSS.escape(t.symbol ?? t.s)}"]`);
  if (!row) return;
  const dir = direction(t.priceChange);
  setCell(row, "last", t.lastPrice ?? "—", dir);
  setCell(row, "change", changeText(t.priceChangePercent), dir);
  setCell(row, "high", t.high ?? "—");
  setCell(row, "low", t.low ?? "—");
  setCell(row, "volume", t.volume);
  setCell(row, "quote-volume", t.quoteVolume);
}

for (const row of table.querySelectorAll("tr[data-symbol]")) {
  socket.subscribe(`ticker@${row.dataset.symbol}`, paint);
  row.addEventListener("click", (event) => {
    if (event.target.closest("a")) return;
    location.href = row.dataset.href;
  });
}

async function refresh() {
  try {
    for (const t of await get("/api/v1/tickers")) paint(t);
  } catch (err) {
    console.warn(err.message);
  }
}

socket.onReopen(refresh);
// The 24 h window rolls on without trades too (old minutes leave it): refresh now and then.
setInterval(refresh, 60_000);
