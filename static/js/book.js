// The local order book, kept from `depthSnapshot` + diffs of `depth@S@100ms`, and its widget.
//
// Each diff carries U (first update id) and u (last); after the snapshot (id u0) the first diff
// applied must cover u0 + 1 (U <= u0 + 1 < u + 1; older diffs are dropped), and every later one
// must start at the previous u + 1. Anything else is a gap: the stream is unsubscribed and
// subscribed again, and the server's fresh snapshot starts the book over. Levels are kept by
// their exact price text; sums are BigInt on the market's step grid.
import { decimalsOf, fromUnits, toUnits } from "./format.js";
import { socket } from "./ws.js";

export class LocalBook {
  constructor(symbol, market) {
    this.symbol = symbol;
    this.stream = `depth@${symbol}@100ms`;
    this.pd = decimalsOf(market.tickSize);
    this.qd = decimalsOf(market.stepSize);
    this.bids = new Map(); // price text -> qty text
    this.asks = new Map();
    this.u = null; // last update id applied; null until a snapshot arrives
    this.fresh = false; // no diff applied since the snapshot
    this.listeners = new Set();
    this.unitCache = new Map();
  }

  /** Load the server-rendered levels so the widgets have numbers before the socket opens. */
  preload(book) {
    for (const l of book.bids) this.bids.set(l.price, l.qty);
    for (const l of book.asks) this.asks.set(l.price, l.qty);
    this.notify();
  }

  start() {
    return socket.subscribe(this.stream, (data) => this.onEvent(data));
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  notify() {
    for (const fn of this.listeners) fn(this);
  }

  onEvent(data) {
    if (data.e === "depthSnapshot") {
      this.bids = new Map(data.b);
      this.asks = new Map(data.a);
      this.u = data.u;
      this.fresh = true;
      this.notify();
      return;
    }
    if (data.e !== "depth" || this.u === null) return; // no snapshot yet: it will come
    if (data.u <= this.u) return; // already in the snapshot
    const continuous = this.fresh ? data.U <= this.u + 1 : data.U === this.u + 1;
    if (!continuous) {
      this.resync();
      return;
    }
    apply(this.bids, data.b);
    apply(this.asks, data.a);
    this.u = data.u;
    this.fresh = false;
    this.notify();
  }

  resync() {
    this.u = null;
    socket.resubscribe(this.stream);
  }

  /** Best `n` levels per side, best first: [{price, qty, units, cum}] with BigInt units. */
  levels(side, n) {
    const map = side === "bids" ? this.bids : this.asks;
    const rows = [];
    for (const [price, qty] of map) rows.push({ price, qty, units: this.units(price) });
    rows.sort(side === "bids" ? (a, b) => cmp(b.units, a.units) : (a, b) => cmp(a.units, b.units));
    const top = n === undefined ? rows : rows.slice(0, n);
    let cum = 0n;
    for (const r of top) {
      cum += toUnits(r.qty, this.qd) ?? 0n;
      r.cum = cum;
    }
    return top;
  }

  /** A price's BigInt units, remembered: a deep book is sorted several times a second. */
  units(price) {
    let units = this.unitCache.get(price);
    if (units === undefined) {
      if (this.unitCache.size > 20000) this.unitCache.clear();
      units = toUnits(price, this.pd);
      this.unitCache.set(price, units);
    }
    return units;
  }

}

const cmp = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

function apply(map, levels) {
  for (const [price, qty] of levels) {
    if (/^0(\.0*)?$/.test(qty)) map.delete(price);
    else map.set(price, qty);
  }
}

/** The book widget: asks above (lowest nearest the spread), bids below, size bars, click to fill #price. */
export class BookView {
  constructor(book, rows) {
    this.book = book;
    this.rows = rows;
    this.asksEl = document.getElementById("book-asks");
    this.bidsEl = document.getElementById("book-bids");
    this.spreadEl = document.querySelector("#spread .spread-value");
    this.scheduled = false;
    book.onChange(() => this.schedule());
    document.getElementById("book").addEventListener("click", (event) => {
      const level = event.target.closest(".level");
      if (!level) return;
      const price = document.getElementById("price");
      price.value = level.dataset.price;
      price.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  render() {
    const asks = this.book.levels("asks", this.rows);
    const bids = this.book.levels("bids", this.rows);
    // From the rows just sorted (best first), not a second sort of each side.
    const spread = asks.length && bids.length ? fromUnits(asks[0].units - bids[0].units, this.book.pd) : null;
    const last = (rows) => (rows.length ? rows[rows.length - 1].cum : 0n);
    const max = [last(asks), last(bids)].reduce((a, b) => (a > b ? a : b), 0n) || 1n;
    this.asksEl.replaceChildren(...asks.reverse().map((r) => this.row(r, max)));
    this.bidsEl.replaceChildren(...bids.map((r) => this.row(r, max)));
    this.spreadEl.textContent = spread ?? "—";
  }

  row(r, max) {
    const el = document.createElement("div");
    el.className = "level";
    el.dataset.price = r.price;
    // The bar width is a picture of relative size, never money: a float is fine here.
    el.style.setProperty("--bar", `${(Number((r.cum * 10000n) / max) / 100).toFixed(2)}%`);
    for (const [cls, text] of [["price", r.price], ["qty", r.qty], ["total", fromUnits(r.cum, this.book.qd)]]) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      el.append(span);
    }
    return el;
  }
}
