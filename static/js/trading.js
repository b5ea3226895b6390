// Order entry: over the tab's socket when it is open (ORDER.PLACE / ORDER.CANCEL /
// ORDER.CANCEL_ALL take the REST bodies and answer the REST answers; a refusal arrives as a
// message, not as a failed HTTP request), else over REST. Both throw an ApiError with words.
import { ApiError, api, words } from "./api.js";
import { socket } from "./ws.js";

async function viaSocket(method, params, restMethod, restPath) {
  if (!socket.isOpen) return api(restMethod, restPath, params);
  try {
    return await socket.request(method, params);
  } catch (err) {
    if (err.code === undefined) throw new ApiError(0, "NETWORK", err.message);
    throw new ApiError(0, err.code, words(0, err.code, err.message));
  }
}

export const placeOrder = (body) => viaSocket("ORDER.PLACE", body, "POST", "/api/v1/order");
export const cancelOrder = (body) => viaSocket("ORDER.CANCEL", body, "DELETE", "/api/v1/order");
export const cancelAll = (symbol) =>
  viaSocket("ORDER.CANCEL_ALL", { symbol }, "DELETE", `/api/v1/orders?symbol=${encodeURIComponent(symbol)}`);
