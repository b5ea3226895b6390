// The trade page's lower panel: tabs with open orders (cancel, cancel all), order history,
// fills and balances, redrawn from the live stores in account-data.js.
import { cancelAll as cancelAllOrders, cancelOrder } from "./trading.js";
import { cap, decimalsOf, esc, fromUnits, timeOfDay, toUnits } from "./format.js";

export function setupTabs() {
  const tabs = document.querySelectorAll(".tabs [data-tab]");
  for (const tab of tabs) {
    tab.addEventListener("click", () => {
      for (const t of tabs) {
        t.classList.toggle("active", t === tab);
        t.setAttribute("aria-selected", String(t === tab));
      }
      for (const pane of document.querySelectorAll(".tab-body[data-pane]")) {
        pane.hidden = pane.dataset.pane !== tab.dataset.tab;
      }
    });
  }
}

export class OrdersView {
  constructor(orders, market, showError) {
    this.orders = orders;
    this.market = market;
    this.showError = showError;
    this.openBody = document.querySelector("#open-orders tbody");
    orders.onChange(() => this.render());
    this.openBody.addEventListener("click", (event) => this.onCancel(event));
    document.getElementById("cancel-all")?.addEventListener("click", () => this.cancelAll());
  }

  render() {
    const open = [...this.orders.open.values()].sort((a, b) => b.createdAt - a.createdAt);
    this.openBody.innerHTML = open.map((o) => this.openRow(o)).join("");
    document.querySelector("#tab-open .count").textContent = String(open.length);
    const empty = document.querySelector('[data-pane="open-orders"] .empty');
    if (empty) empty.hidden = open.length > 0;
    document.querySelector("#order-history tbody").innerHTML = this.orders.closed.map((o) => this.closedRow(o)).join("");
    document.querySelector("#fills tbody").innerHTML = this.orders.fills.map((f) => this.fillRow(f)).join("");
  }

  openRow(o) {
    return `<tr data-order-id="${esc(o.orderId)}"><td class="l time">${timeOfDay(o.createdAt)}</td>`
      + `<td class="l side ${esc(o.side)}">${cap(o.side)}</td><td class="l">${cap(o.type)}</td>`
      + `<td class="price">${esc(o.price ?? "Market")}</td><td class="qty">${esc(o.quantity ?? "")}</td>`
      + `<td class="filled">${esc(o.executedQty)}</td><td class="hide-s">${esc(o.timeInForce)}</td>`
      + `<td><button type="button" class="cancel btn-ghost small">Cancel</button></td></tr>`;
  }

  closedRow(o) {
    return `<tr data-order-id="${esc(o.orderId)}"><td class="l time">${timeOfDay(o.updatedAt)}</td>`
      + `<td class="l side ${esc(o.side)}">${cap(o.side)}</td><td class="l">${cap(o.type)}</td>`
      + `<td class="price">${esc(o.price ?? "Market")}</td><td class="qty">${esc(o.quantity ?? o.quoteQuantity ?? "")}</td>`
      + `<td class="filled">${esc(o.executedQty)}</td><td>${esc(this.average(o))}</td>`
      + `<td class="l status">${esc(statusWords(o.status))}</td></tr>`;
  }

  fillRow(f) {
    return `<tr data-trade-id="${esc(f.tradeId)}"><td class="l time">${timeOfDay(f.timestamp)}</td>`
      + `<td class="l side ${esc(f.side)}">${cap(f.side)}</td><td class="price">${esc(f.price)}</td>`
      + `<td class="qty">${esc(f.quantity)}</td><td>${esc(f.quoteQuantity)}</td>`
      + `<td>${esc(f.fee)} ${esc(f.feeAsset)}</td><td class="l">${cap(f.role)}</td></tr>`;
  }

  /** executedQuoteQty / executedQty rounded down to the tick's digits (a display figure). */
  average(o) {
    const qd = decimalsOf(o.executedQty);
    const vd = decimalsOf(o.executedQuoteQty);
    const pd = decimalsOf(this.market.tickSize);
    const q = toUnits(o.executedQty, qd);
    const v = toUnits(o.executedQuoteQty, vd);
    if (!q || v === null) return "—";
    // v/10^vd / (q/10^qd) in units of 10^-pd
    return fromUnits((v * 10n ** BigInt(qd + pd)) / (q * 10n ** BigInt(vd)), pd);
  }

  async onCancel(event) {
    const button = event.target.closest("button.cancel");
    if (!button) return;
    const orderId = button.closest("tr").dataset.orderId;
    button.disabled = true;
    try {
      const order = await cancelOrder({ symbol: this.orders.symbol, orderId });
      this.orders.upsert(order);
    } catch (err) {
      this.showError(err.message);
      button.disabled = false;
    }
  }

  async cancelAll() {
    try {
      const canceled = await cancelAllOrders(this.orders.symbol);
      for (const o of canceled) this.orders.upsert(o);
    } catch (err) {
      this.showError(err.message);
    }
  }
}

function statusWords(status) {
  // No REJECTED: a refused order is an error answer and never exists (docs/API.md, Orders).
  return { NEW: "Open", PARTIALLY_FILLED: "Partially filled", FILLED: "Filled", CANCELED: "Canceled",
    EXPIRED: "Expired" }[status] ?? status;
}

/** Balances table rows (`tr[data-asset]` with `td.available`, `td.locked`), kept live. */
export class BalancesView {
  constructor(balances) {
    this.balances = balances;
    this.body = document.querySelector("#balances tbody");
    balances.onChange((asset) => this.paint(asset));
  }

  paint(asset) {
    const b = this.balances.map.get(asset);
    let row = this.body.querySelector(`tr[data-asset="${CSS.escape(asset)}"]`);
    if (!row) {
      row = document.createElement("tr");
      row.dataset.asset = asset;
      row.innerHTML = `<td class="l asset">${esc(asset)}</td><td class="available"></td><td class="locked"></td>`;
      this.body.append(row);
    }
    row.querySelector(".available").textContent = b.available;
    row.querySelector(".locked").textContent = b.locked;
  }
}
