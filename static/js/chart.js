// Candlestick chart with volume: history from GET /api/v1/klines, the live candle from
// `kline.<interval>@S`, an interval switch (#intervals) and an OHLCV legend (#chart-legend)
// showing the last candle, or the hovered one, in the API's exact decimal text.
import { CandlestickSeries, HistogramSeries, createChart } from "/static/vendor/lightweight-charts.mjs";
import { get } from "./api.js";
import { decimalsOf } from "./format.js";
import { DOWN, LINE, UP, alpha, chartTheme } from "./theme.js";
import { socket } from "./ws.js";

const VOLUME_UP = alpha(UP, 0.45);
const VOLUME_DOWN = alpha(DOWN, 0.45);

const HISTORY = 500;

export class CandleChart {
  constructor(el, symbol, market) {
    this.symbol = symbol;
    this.interval = "1m";
    this.legend = document.getElementById("chart-legend");
    this.chart = createChart(el, {
      ...chartTheme(),
      autoSize: true,
      rightPriceScale: { borderColor: LINE },
      // Wide bars and a little room on the right: a young market has few candles, and they
      // should read as candles, not hairlines against the price scale.
      timeScale: { borderColor: LINE, timeVisible: true, secondsVisible: false, barSpacing: 9, rightOffset: 4 },
    });
    const precision = decimalsOf(market.tickSize);
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderVisible: false, wickUpColor: UP, wickDownColor: DOWN,
      priceFormat: { type: "price", precision, minMove: Number(market.tickSize) },
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume", priceFormat: { type: "volume" }, priceLineVisible: false, lastValueVisible: false,
    });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.chart.subscribeCrosshairMove((param) => this.onHover(param));
    this.klines = new Map(); // bar time (s) -> kline in the API's text
    this.lastTime = null;
    this.loaded = false;
    this.queued = [];
    this.unsubscribe = null;
    this.generation = 0;
    document.getElementById("intervals").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-interval]");
      if (button) this.setInterval(button.dataset.interval);
    });
    socket.onReopen(() => this.load());
    this.setInterval("1m");
  }

  setInterval(interval) {
    if (interval === this.interval && this.unsubscribe) return;
    this.interval = interval;
    for (const b of document.querySelectorAll("#intervals button")) {
      b.classList.toggle("active", b.dataset.interval === interval);
    }
    this.unsubscribe?.();
    this.unsubscribe = socket.subscribe(`kline.${interval}@${this.symbol}`, (data) => this.onKline(data));
    this.load();
  }

  /** (Re)load the history; live candles that arrive meanwhile wait and are applied after it. */
  async load() {
    const generation = ++this.generation;
    this.loaded = false;
    this.queued = [];
    let rows;
    try {
      rows = await get(`/api/v1/klines?symbol=${this.symbol}&interval=${this.interval}&limit=${HISTORY}`);
    } catch (err) {
      console.warn("klines:", err.message);
      return;
    }
    if (generation !== this.generation) return; // another interval was chosen meanwhile
    this.klines.clear();
    const candles = [];
    const volumes = [];
    for (const k of rows) {
      const bar = toBar(k);
      this.klines.set(bar.time, k);
      candles.push(bar);
      volumes.push(volumeBar(bar, k.volume));
    }
    this.candles.setData(candles);
    this.volume.setData(volumes);
    this.lastTime = candles.length ? candles[candles.length - 1].time : null;
    this.loaded = true;
    for (const k of this.queued) this.apply(k);
    this.queued = [];
    this.showLegend(this.lastTime);
  }

  onKline(data) {
    if (data.k.i !== this.interval) return;
    const k = data.k;
    const kline = { start: k.t, end: k.T, open: k.o, high: k.h, low: k.l, close: k.c, volume: k.v };
    if (!this.loaded) this.queued.push(kline);
    else this.apply(kline);
  }

  apply(k) {
    const bar = toBar(k);
    if (this.lastTime !== null && bar.time < this.lastTime) {
      // An older candle (the previous one re-sent as closed) can only be corrected in place.
      if (!this.klines.has(bar.time)) return;
    }
    this.klines.set(bar.time, k);
    try {
      this.candles.update(bar, bar.time < (this.lastTime ?? 0));
      this.volume.update(volumeBar(bar, k.volume), bar.time < (this.lastTime ?? 0));
    } catch (err) {
      console.warn("candle update refused:", err.message);
      return;
    }
    if (this.lastTime === null || bar.time >= this.lastTime) this.lastTime = bar.time;
    if (!this.hovering) this.showLegend(this.lastTime);
  }

  onHover(param) {
    this.hovering = param.time !== undefined && param.point !== undefined;
    this.showLegend(this.hovering ? param.time : this.lastTime);
  }

  showLegend(time) {
    const k = time === null || time === undefined ? null : this.klines.get(time);
    for (const field of ["open", "high", "low", "close", "volume"]) {
      const el = this.legend.querySelector(`[data-field="${field}"]`);
      el.textContent = k ? k[field] : "—";
      if (field !== "volume") el.className = k && Number(k.close) < Number(k.open) ? "down" : k ? "up" : "";
    }
    this.legend.dataset.start = k ? String(k.start) : "";
  }
}

// The chart library draws times as UTC; shifting by the browser's offset (fixed at load, so bar
// times stay strictly ascending across a daylight-saving change) shows local time.
const LOCAL_SHIFT_S = -new Date().getTimezoneOffset() * 60;

function toBar(k) {
  // Floats only for drawing: the legend shows the API's text, and no order uses these.
  return { time: Math.floor(k.start / 1000) + LOCAL_SHIFT_S, open: Number(k.open), high: Number(k.high),
    low: Number(k.low), close: Number(k.close) };
}

function volumeBar(bar, volume) {
  return { time: bar.time, value: Number(volume),
    color: bar.close >= bar.open ? VOLUME_UP : VOLUME_DOWN };
}
