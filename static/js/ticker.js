// The trade page's ticker header (and the last price beside the spread), live from `ticker@S`.
import { get } from "./api.js";
import { changeText, direction } from "./format.js";
import { socket } from "./ws.js";

export class TickerView {
  constructor(symbol, market) {
    this.symbol = symbol;
    this.market = market;
    this.root = document.getElementById("ticker");
    socket.subscribe(`ticker@${symbol}`, (t) => this.paint(t));
    socket.onReopen(() => this.refetch());
    // The 24 h window rolls on without trades too: refresh it now and then.
    setInterval(() => this.refetch(), 60_000);
  }

  paint(t) {
    const dir = direction(t.priceChange);
    const set = (root, field, text, colour) => {
      for (const el of root.querySelectorAll(`[data-field="${field}"]`)) {
        el.textContent = text;
        if (colour) {
          el.classList.toggle("up", dir === "up");
          el.classList.toggle("down", dir === "down");
        }
      }
    };
    set(this.root, "last", t.lastPrice ?? "—", true);
    set(document.getElementById("spread"), "last", t.lastPrice ?? "—", true);
    set(this.root, "change", changeText(t.priceChangePercent), true);
    set(this.root, "high", t.high ?? "—");
    set(this.root, "low", t.low ?? "—");
    set(this.root, "volume", t.volume);
    set(this.root, "quoteVolume", t.quoteVolume);
    if (t.lastPrice) {
      document.title = `${t.lastPrice} ${this.market.baseAsset}/${this.market.quoteAsset} · Exchange`;
    }
  }

  async refetch() {
    try {
      this.paint(await get(`/api/v1/ticker?symbol=${this.symbol}`));
    } catch (err) {
      console.warn("ticker:", err.message);
    }
  }
}
