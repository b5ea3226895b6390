// The one WebSocket of this tab. Widgets subscribe to streams through it; the socket
// subscribes to a stream when its first widget asks and unsubscribes when the last one leaves
// (reference counts). When the connection drops (a server restart), it reconnects with
// exponential backoff (capped, with jitter), subscribes everything again and tells the widgets
// (`onReopen`) so they refetch what they may have missed. `#ws-status[data-state]` shows
// connecting | open | closed. The session cookie authenticates the socket for `orders` and
// `balances`.

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 8000;
const REQUEST_TIMEOUT_MS = 10000;

class SocketManager {
  constructor() {
    this.handlers = new Map(); // stream -> Set of callbacks(data, stream)
    this.reopenHooks = new Set();
    this.socket = null;
    this.nextId = 1;
    this.pending = new Map(); // request id -> {stream, method}
    this.attempt = 0;
    this.opened = false; // opened at least once: later opens are reconnects
    this.timer = null;
    this.started = false;
  }

  /** Open the connection (idempotent). */
  start() {
    if (this.started) return;
    this.started = true;
    this.connect();
    window.addEventListener("online", () => this.retryNow());
  }

  connect() {
    this.timer = null;
    this.setState("connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    this.socket = socket;
    socket.addEventListener("open", () => this.onOpen(socket));
    socket.addEventListener("message", (event) => this.onMessage(event));
    socket.addEventListener("close", () => this.onClose(socket));
  }

  onOpen(socket) {
    if (socket !== this.socket) return;
    this.attempt = 0;
    this.setState("open");
    for (const stream of this.handlers.keys()) this.send("SUBSCRIBE", stream);
    if (this.opened) for (const hook of this.reopenHooks) safely(hook);
    this.opened = true;
  }

  onClose(socket) {
    if (socket !== this.socket) return;
    this.socket = null;
    for (const request of this.pending.values()) {
      request.reject?.(new Error("The connection dropped before the exchange answered: check your open orders."));
    }
    this.pending.clear();
    this.setState("closed");
    if (this.timer === null) {
      // Full backoff doubling, capped, with jitter so a restarted server is not hit by every tab at once.
      const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this.attempt = Math.min(this.attempt + 1, 10);
      this.timer = setTimeout(() => this.connect(), delay);
    }
  }

  retryNow() {
    if (this.socket === null && this.timer !== null) {
      clearTimeout(this.timer);
      this.connect();
    }
  }

  onMessage(event) {
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    if (msg.stream !== undefined) {
      for (const fn of this.handlers.get(msg.stream) ?? []) safely(() => fn(msg.data, msg.stream));
      return;
    }
    const request = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    if (request?.resolve) {
      clearTimeout(request.timer);
      if (msg.error) request.reject(Object.assign(new Error(msg.error.message), { code: msg.error.code }));
      else request.resolve(msg.result);
      return;
    }
    if (msg.error && request?.stream) console.warn("stream", request.stream, msg.error.message);
  }

  send(method, stream) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    const id = this.nextId++;
    this.pending.set(id, { stream, method });
    this.socket.send(JSON.stringify({ method, params: [stream], id }));
    return true;
  }

  /** A request answered on the socket (order entry): resolves to `result`, rejects with {code, message}. */
  request(method, params) {
    return new Promise((resolve, reject) => {
      if (!this.isOpen) {
        reject(new Error("Not connected to the exchange: wait for the connection and try again."));
        return;
      }
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error("The exchange did not answer in time: check your open orders."));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { method, resolve, reject, timer });
      this.socket.send(JSON.stringify({ method, params, id }));
    });
  }

  /** Listen to `stream`; returns the function that stops listening. */
  subscribe(stream, handler) {
    this.start();
    let set = this.handlers.get(stream);
    if (!set) {
      set = new Set();
      this.handlers.set(stream, set);
      this.send("SUBSCRIBE", stream);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(stream) === set) {
        this.handlers.delete(stream);
        this.send("UNSUBSCRIBE", stream);
      }
    };
  }

  /** Start a stream over (a gap in depth diffs): unsubscribe and subscribe; a new snapshot follows. */
  resubscribe(stream) {
    if (!this.handlers.has(stream)) return;
    this.send("UNSUBSCRIBE", stream);
    this.send("SUBSCRIBE", stream);
  }

  /** `fn` runs after every reconnect (not the first open): refetch what may have been missed. */
  onReopen(fn) {
    this.reopenHooks.add(fn);
    return () => this.reopenHooks.delete(fn);
  }

  get isOpen() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  setState(state) {
    const el = document.getElementById("ws-status");
    if (!el) return;
    el.dataset.state = state;
    const label = el.querySelector(".ws-label");
    if (label) label.textContent = { connecting: "Connecting", open: "Live", closed: "Reconnecting" }[state];
    el.title = { connecting: "Connecting to live data", open: "Live data connected", closed: "Disconnected: reconnecting" }[state];
  }
}

function safely(fn) {
  try {
    fn();
  } catch (err) {
    console.error(err);
  }
}

/** The tab's socket manager (an ES module is evaluated once per page: one connection per tab). */
export const socket = new SocketManager();
