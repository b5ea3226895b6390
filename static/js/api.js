// fetch for the page scripts: JSON in and out, the session's CSRF token on every request,
// and every failure turned into a sentence a trader can read (never a bare error code).

/** An API failure: `message` is words for the user, `code` the API's code (or NETWORK/HTTP). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The CSRF token of the signed-in session, from `<meta name="csrf-token">`. */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

const FALLBACK = {
  400: "The exchange could not accept that request.",
  401: "Your session has ended: log in again.",
  403: "That is not allowed. Reload the page and try again.",
  404: "Not found.",
  413: "That request is too large.",
  429: "Too many requests: wait a moment and try again.",
  503: "The exchange is busy right now: try again in a moment.",
};

/** The API's own sentence, as it wrote it (it is already words for people). */
export function sentence(message) {
  return String(message || "").trim();
}

/** Words for a failed answer (REST status, or 0 for a socket answer) with the API's {code, message}. */
export function words(status, code, message) {
  if (code === "OVERLOADED") return `The exchange is busy: ${sentence(message) || "try again in a moment"}.`;
  if (message) return sentence(message);
  return FALLBACK[status] ?? `The exchange answered with an error (HTTP ${status}): try again.`;
}

/** Send a request; resolves to the decoded JSON answer, or throws an ApiError with words. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = csrfToken();
  if (token) headers["X-CSRF-Token"] = token;
  const init = { method, headers, credentials: "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "NETWORK", "Could not reach the exchange: check your connection and try again.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.ok) return data;
  const code = data?.code ?? (response.status === 503 ? "OVERLOADED" : "HTTP");
  throw new ApiError(response.status, code, words(response.status, code, data?.message));
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body ?? {});
export const del = (path, body) => api("DELETE", path, body);
