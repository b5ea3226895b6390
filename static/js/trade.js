// The trade page: every widget of one market, wired to the tab's single socket.
import "./common.js";
import { Balances, Orders } from "./account-data.js";
import { BookView, LocalBook } from "./book.js";
import { CandleChart } from "./chart.js";
import { DepthChart } from "./depth.js";
import { pageData } from "./format.js";
import { OrderForm } from "./form.js";
import { BalancesView, OrdersView, setupTabs } from "./orders.js";
import { TickerView } from "./ticker.js";
import { TradesView } from "./trades.js";

const data = pageData();
const symbol = document.body.dataset.symbol;
const market = data.market;

function startWidget(name, make) {
  // One broken widget (say, a canvas the browser refuses) must not take the others down.
  try {
    return make();
  } catch (err) {
    console.error(`${name}:`, err);
    return null;
  }
}

const book = new LocalBook(symbol, market);
startWidget("book", () => new BookView(book, data.bookRows));
book.preload(data.book);
book.start();
startWidget("ticker", () => new TickerView(symbol, market));
startWidget("trades", () => new TradesView(symbol, data.tradeRows));
startWidget("chart", () => new CandleChart(document.getElementById("chart"), symbol, market));
startWidget("depth", () => new DepthChart(document.getElementById("depth-chart"), book, market));
setupTabs();

let balances = null;
let orders = null;
if (data.signedIn) {
  balances = new Balances(data.balances);
  orders = new Orders(symbol, data.openOrders);
  balances.start();
  orders.start();
  new BalancesView(balances);
}
const form = new OrderForm(market, balances, orders);
if (orders) new OrdersView(orders, market, (message) => { form.clearMessages(); form.error.textContent = message; });
