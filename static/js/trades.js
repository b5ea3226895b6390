// Recent trades, newest first: preloaded by the server, live from `trade@S`, refetched after a
// reconnect (trades during the outage would otherwise be missing).
import { get } from "./api.js";
import { timeOfDay } from "./format.js";
import { socket } from "./ws.js";

export class TradesView {
  constructor(symbol, rows) {
    this.symbol = symbol;
    this.rows = rows;
    this.el = document.getElementById("trades");
    this.seen = new Set([...this.el.querySelectorAll(".trade")].map((r) => r.dataset.id));
    socket.subscribe(`trade@${symbol}`, (t) =>
      this.add([{ id: String(t.t), price: t.p, quantity: t.q, timestamp: t.T, isBuyerMaker: t.m }]));
    socket.onReopen(() => this.refetch());
  }

  /** Prepend trades given newest first; duplicates (by id) are skipped. */
  add(trades) {
    const fresh = trades.filter((t) => !this.seen.has(t.id));
    if (!fresh.length) return;
    this.el.prepend(...fresh.map((t) => this.row(t)));
    for (const t of fresh) this.seen.add(t.id);
    while (this.el.children.length > this.rows) {
      this.seen.delete(this.el.lastElementChild.dataset.id);
      this.el.lastElementChild.remove();
    }
  }

  row(t) {
    const el = document.createElement("div");
    // The taker's side: a buyer who was the maker means the taker sold.
    el.className = `trade ${t.isBuyerMaker ? "sell" : "buy"}`;
    el.dataset.id = t.id;
    for (const [cls, text] of [["price", t.price], ["qty", t.quantity], ["time", timeOfDay(t.timestamp)]]) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      el.append(span);
    }
    return el;
  }

  async refetch() {
    try {
      const trades = await get(`/api/v1/trades?symbol=${this.symbol}&limit=${this.rows}`);
      this.el.replaceChildren();
      this.seen.clear();
      this.add(trades);
    } catch (err) {
      console.warn("trades:", err.message);
    }
  }
}
