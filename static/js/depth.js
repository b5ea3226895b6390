// The depth chart: cumulative size by price, bids (green) left of the spread, asks (red) right.
// lightweight-charts' options chart puts a number (the price) on the horizontal axis; each side
// is a stepped area series whose x values must be strictly ascending and unique.
import { AreaSeries, LineType, createOptionsChart } from "/static/vendor/lightweight-charts.mjs";
import { decimalsOf, fromUnits } from "./format.js";
import { DOWN, UP, alpha, chartTheme } from "./theme.js";

const LEVELS = 150; // per side: the chart stays readable and cheap to redraw

export class DepthChart {
  constructor(el, book, market) {
    this.book = book;
    this.qd = decimalsOf(market.stepSize);
    this.tick = Number(market.tickSize); // drawing only
    const precision = decimalsOf(market.tickSize);
    this.chart = createOptionsChart(el, {
      ...chartTheme(),
      autoSize: true,
      localization: { precision },
      handleScroll: false,
      handleScale: false,
      rightPriceScale: { borderVisible: false, scaleMargins: { top: 0.1, bottom: 0 } },
      timeScale: { borderVisible: false, fixLeftEdge: true, fixRightEdge: true },
    });
    const common = { lineType: LineType.WithSteps, lineWidth: 2, priceLineVisible: false, lastValueVisible: false,
      priceFormat: { type: "volume" } };
    const side = (color) => ({ ...common, lineColor: color, topColor: alpha(color, 0.35), bottomColor: alpha(color, 0.05) });
    this.bids = this.chart.addSeries(AreaSeries, side(UP));
    this.asks = this.chart.addSeries(AreaSeries, side(DOWN));
    this.scheduled = false;
    book.onChange(() => this.schedule());
    this.render();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    // The depth picture need not follow every diff: at most a few redraws a second.
    setTimeout(() => {
      this.scheduled = false;
      this.render();
    }, 250);
  }

  points(side) {
    // Best first with running totals; plotted in ascending price order, one point per level.
    // A stepped series holds each value until the next x. For asks that is right as it is (the
    // size at or below x); for bids the size at or above x between two levels is the total of
    // the higher one, so each bid point carries its right neighbour's total, and one extra point
    // a tick below the lowest bid shows the whole side.
    let rows = this.book.levels(side, LEVELS).map((r) => ({
      time: Number(r.price),
      value: Number(fromUnits(r.cum, this.qd)),
    }));
    if (side === "bids" && rows.length) {
      rows.reverse();
      const deepest = { time: rows[0].time - this.tick, value: rows[0].value };
      rows = [deepest, ...rows.map((p, i) => ({ time: p.time, value: (rows[i + 1] ?? p).value }))];
    }
    return rows.filter((p, i) => i === 0 || p.time > rows[i - 1].time);
  }

  render() {
    const bids = this.points("bids");
    const asks = this.points("asks");
    this.bids.setData(bids);
    this.asks.setData(asks);
    if (bids.length || asks.length) this.chart.timeScale().fitContent();
  }
}
