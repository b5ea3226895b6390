// The order form. It sends exactly the decimal text the trader typed (or that a percentage
// button computed with BigInt on the market's grid, rounded down); the total is a display of
// price x quantity, except for a market buy, where the trader may give the quote amount to
// spend instead (the API's quoteQuantity). Errors from the API appear in #form-error in words.
import { placeOrder } from "./trading.js";
import { decimalsOf, fromUnits, isDecimal, multiply, pctOfBalance, toUnits, trimZeros } from "./format.js";

export class OrderForm {
  constructor(market, balances, orders) {
    this.market = market;
    this.balances = balances;
    this.orders = orders;
    this.side = "buy";
    this.type = "limit";
    this.quoteTyped = false; // market buy: the trader gave the total (quote) rather than the amount
    this.el = document.getElementById("order-form");
    this.price = document.getElementById("price");
    this.quantity = document.getElementById("quantity");
    this.total = document.getElementById("total");
    this.postOnly = document.getElementById("post-only");
    this.ioc = document.getElementById("ioc");
    this.error = document.getElementById("form-error");
    this.status = document.getElementById("form-status");
    this.submit = document.getElementById("submit-order");
    this.bind();
    this.update();
  }

  bind() {
    document.getElementById("side-buy").addEventListener("click", () => this.setSide("buy"));
    document.getElementById("side-sell").addEventListener("click", () => this.setSide("sell"));
    document.getElementById("type-limit").addEventListener("click", () => this.setType("limit"));
    document.getElementById("type-market").addEventListener("click", () => this.setType("market"));
    this.price.addEventListener("input", () => this.recompute());
    this.quantity.addEventListener("input", () => { this.quoteTyped = false; this.recompute(); });
    this.total.addEventListener("input", () => { this.quoteTyped = true; this.quantity.value = ""; });
    // Post-only (maker only) and IOC (take now or never rest) exclude each other.
    this.postOnly.addEventListener("change", () => { if (this.postOnly.checked) this.ioc.checked = false; });
    this.ioc.addEventListener("change", () => { if (this.ioc.checked) this.postOnly.checked = false; });
    for (const b of this.el.querySelectorAll("button[data-pct]")) {
      b.addEventListener("click", () => this.fillPercent(Number(b.dataset.pct)));
    }
    this.el.addEventListener("submit", (event) => { event.preventDefault(); this.send(); });
    this.balances?.onChange(() => this.showAvailable());
  }

  setSide(side) {
    this.side = side;
    this.update();
  }

  setType(type) {
    this.type = type;
    this.quoteTyped = false;
    this.update();
    this.recompute();
  }

  get spendAsset() {
    return this.side === "buy" ? this.market.quoteAsset : this.market.baseAsset;
  }

  update() {
    const buy = this.side === "buy";
    const limit = this.type === "limit";
    toggle(document.getElementById("side-buy"), buy);
    toggle(document.getElementById("side-sell"), !buy);
    toggle(document.getElementById("type-limit"), limit);
    toggle(document.getElementById("type-market"), !limit);
    this.el.querySelector(".price-field").hidden = !limit;
    this.el.querySelector(".market-price-field").hidden = limit;
    // A market buy may name the quote amount to spend; otherwise the total only displays.
    const quoteInput = !limit && buy;
    this.total.readOnly = !quoteInput;
    this.total.closest(".field").classList.toggle("editable", quoteInput);
    this.total.placeholder = quoteInput ? "Amount to spend" : "0";
    this.postOnly.disabled = !limit;
    this.ioc.disabled = !limit;
    if (!limit) this.postOnly.checked = this.ioc.checked = false;
    if (this.submit) {
      this.submit.className = `submit ${this.side}`;
      this.submit.textContent = `${buy ? "Buy" : "Sell"} ${this.market.baseAsset}`;
    }
    this.showAvailable();
  }

  showAvailable() {
    const el = document.getElementById("available");
    el.dataset.asset = this.spendAsset;
    el.textContent = `${this.balances ? this.balances.available(this.spendAsset) : "—"} ${this.spendAsset}`;
  }

  recompute() {
    if (this.type === "market") {
      if (!this.quoteTyped) this.total.value = "";
      return;
    }
    const p = this.price.value.trim();
    const q = this.quantity.value.trim();
    const product = isDecimal(p) && isDecimal(q) ? multiply(p, q) : null;
    this.total.value = product === null ? "" : trimTo(product, decimalsOf(this.market.tickSize) + decimalsOf(this.market.stepSize));
  }

  fillPercent(pct) {
    this.clearMessages();
    if (!this.balances) {
      this.error.textContent = "Log in to use your balance.";
      return;
    }
    const available = this.balances.available(this.spendAsset);
    if (this.side === "buy" && this.type === "market") {
      const amount = pctOfBalance(available, pct, "1", fromUnits(1n, this.market.quoteDecimals));
      this.total.value = amount === null ? "" : amount;
      this.quantity.value = "";
      this.quoteTyped = true;
      return;
    }
    let divisor = "1";
    if (this.side === "buy") {
      divisor = this.price.value.trim();
      if (!isDecimal(divisor) || !/[1-9]/.test(divisor)) {
        this.error.textContent = "Enter a price first: the amount you can buy depends on it.";
        return;
      }
    }
    const qty = pctOfBalance(available, pct, divisor, this.market.stepSize);
    this.quantity.value = qty === null ? "" : qty;
    this.quoteTyped = false;
    this.recompute();
  }

  clearMessages() {
    this.error.textContent = "";
    this.status.textContent = "";
  }

  /** The request body from the fields, or a sentence saying what is missing. */
  body() {
    const m = this.market;
    const body = { symbol: m.symbol, side: this.side, type: this.type };
    const price = this.price.value.trim();
    const qty = this.quantity.value.trim();
    const total = this.total.value.trim();
    if (this.type === "limit") {
      if (!price) return "Enter a price.";
      if (!isDecimal(price)) return `The price must be a number like ${m.tickSize}.`;
      body.price = price;
      body.timeInForce = this.ioc.checked ? "IOC" : "GTC";
      if (this.postOnly.checked) body.postOnly = true;
    }
    if (this.type === "market" && this.side === "buy" && this.quoteTyped) {
      if (!total) return `Enter the ${m.quoteAsset} amount to spend.`;
      if (!isDecimal(total)) return "The total must be a number.";
      body.quoteQuantity = total;
      return body;
    }
    if (!qty) return `Enter the amount of ${m.baseAsset}.`;
    if (!isDecimal(qty)) return `The amount must be a number like ${m.stepSize}.`;
    body.quantity = qty;
    return body;
  }

  async send() {
    this.clearMessages();
    const body = this.body();
    if (typeof body === "string") {
      this.error.textContent = body;
      return;
    }
    this.submit.disabled = true;
    try {
      const order = await placeOrder(body);
      this.orders?.upsert(order);
      this.status.textContent = describe(order, this.market);
    } catch (err) {
      this.error.textContent = err.message;
    } finally {
      this.submit.disabled = false;
    }
  }
}

function toggle(button, on) {
  button.classList.toggle("active", on);
  button.setAttribute("aria-pressed", String(on));
}

/** Drop digits past `decimals` that are zero (a product carries both operands' digits). */
function trimTo(text, decimals) {
  const units = toUnits(text, decimals);
  return units === null ? trimZeros(text) : fromUnits(units, decimals);
}

function describe(o, m) {
  const side = o.side === "buy" ? "Buy" : "Sell";
  const what = o.quantity ? `${o.quantity} ${m.baseAsset}` : `${o.quoteQuantity} ${m.quoteAsset} of ${m.baseAsset}`;
  const at = o.price ? ` at ${o.price}` : " at market";
  const state = {
    NEW: "placed", PARTIALLY_FILLED: `partially filled (${o.executedQty} ${m.baseAsset})`, FILLED: "filled",
    EXPIRED: o.executedQty && /[1-9]/.test(o.executedQty) ? `filled ${o.executedQty} ${m.baseAsset}, the rest expired` : "expired unfilled",
    CANCELED: "canceled",
  }[o.status] ?? o.status.toLowerCase();
  return `${side} ${what}${at}: ${state}.`;
}
