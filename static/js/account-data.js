// The signed-in user's balances and orders in the browser: preloaded by the server, kept live
// from the private streams `balances` and `orders` (the socket is authenticated by the session
// cookie), and refetched after a reconnect. Widgets listen with `onChange`.
import { get } from "./api.js";
import { socket } from "./ws.js";

const OPEN = new Set(["NEW", "PARTIALLY_FILLED"]);
const KEPT = 200; // closed orders and fills shown; older ones are a REST page away

export class Balances {
  constructor(initial) {
    this.map = new Map(); // asset -> {available, locked}
    this.listeners = new Set();
    for (const b of initial ?? []) this.map.set(b.asset, { available: b.available, locked: b.locked });
  }

  start() {
    socket.subscribe("balances", (b) => this.set(b.asset, b.available, b.locked));
    socket.onReopen(() => this.refetch());
  }

  available(asset) {
    return this.map.get(asset)?.available ?? "0";
  }

  set(asset, available, locked) {
    this.map.set(asset, { available, locked });
    for (const fn of this.listeners) fn(asset);
  }

  /** Replace everything from a `{ASSET: {available, locked}}` answer (REST or onramp). */
  load(all) {
    for (const [asset, b] of Object.entries(all)) this.set(asset, b.available, b.locked);
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  async refetch() {
    try {
      this.load(await get("/api/v1/balances"));
    } catch (err) {
      console.warn("balances:", err.message);
    }
  }
}

/** Open orders, closed orders and fills of one market. */
export class Orders {
  constructor(symbol, openOrders) {
    this.symbol = symbol;
    this.open = new Map(); // orderId -> order
    this.closed = []; // newest first
    this.fills = []; // newest first
    this.done = new Set(); // ids seen closed: a late REST answer must not reopen them
    this.listeners = new Set();
    for (const o of openOrders ?? []) this.open.set(o.orderId, o);
  }

  start() {
    socket.subscribe("orders", (o) => this.onEvent(o));
    socket.onReopen(() => this.refetch());
    this.refetch();
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  notify() {
    for (const fn of this.listeners) fn(this);
  }

  onEvent(o) {
    if (o.symbol !== this.symbol) return;
    for (const f of o.fills ?? []) {
      if (!this.fills.some((x) => x.tradeId === f.tradeId && x.orderId === f.orderId)) {
        this.fills.unshift({ ...f, orderId: o.orderId, side: o.side, symbol: o.symbol });
      }
      this.fills.length = Math.min(this.fills.length, KEPT);
    }
    this.upsert(o);
  }

  /** An order as the API shows it (stream event or REST answer). */
  upsert(o) {
    if (OPEN.has(o.status)) {
      const known = this.open.get(o.orderId);
      if (!this.done.has(o.orderId) && (!known || known.updatedAt <= o.updatedAt)) this.open.set(o.orderId, o);
    } else {
      this.open.delete(o.orderId);
      if (!this.done.has(o.orderId)) {
        this.done.add(o.orderId);
        this.closed.unshift(o);
        this.closed.length = Math.min(this.closed.length, KEPT);
      } else {
        const i = this.closed.findIndex((c) => c.orderId === o.orderId);
        if (i >= 0 && this.closed[i].updatedAt <= o.updatedAt) this.closed[i] = o;
      }
    }
    this.notify();
  }

  async refetch() {
    const q = `symbol=${this.symbol}`;
    try {
      const [open, history, fills] = await Promise.all([
        get(`/api/v1/orders/open?${q}`), get(`/api/v1/orders/history?${q}&limit=50`), get(`/api/v1/fills?${q}&limit=50`),
      ]);
      this.open = new Map(open.map((o) => [o.orderId, o]));
      this.closed = history;
      this.done = new Set(history.map((o) => o.orderId));
      this.fills = fills;
      this.notify();
    } catch (err) {
      console.warn("orders:", err.message);
    }
  }
}
