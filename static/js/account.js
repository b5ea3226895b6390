// The account page: balances (live from `balances`), the demo onramp, and API keys
// (create: the secret is shown once; list; revoke).
import "./common.js";
import { del, post } from "./api.js";
import { Balances } from "./account-data.js";
import { dateTime, esc, isDecimal, pageData } from "./format.js";
import { BalancesView } from "./orders.js";

const data = pageData();
const balances = new Balances(data.balances);
new BalancesView(balances);
balances.start();

const onramp = document.getElementById("onramp-form");
const onrampError = document.getElementById("onramp-error");
const onrampStatus = document.getElementById("onramp-status");
onramp.addEventListener("submit", async (event) => {
  event.preventDefault();
  onrampError.textContent = onrampStatus.textContent = "";
  const asset = document.getElementById("onramp-asset").value;
  const amount = document.getElementById("onramp-amount").value.trim();
  if (!isDecimal(amount) || !/[1-9]/.test(amount)) {
    onrampError.textContent = "Enter an amount greater than zero, like 1000.";
    return;
  }
  const button = onramp.querySelector("[type=submit]");
  button.disabled = true;
  try {
    balances.load(await post("/api/v1/onramp", { asset, amount }));
    onrampStatus.textContent = `Deposited ${amount} ${asset}.`;
  } catch (err) {
    onrampError.textContent = err.message;
  } finally {
    button.disabled = false;
  }
});

const keysBody = document.querySelector("#api-keys tbody");
const keyError = document.getElementById("key-error");
const emptyKeys = document.querySelector(".keys-panel .empty");

function keyRow(k) {
  const tr = document.createElement("tr");
  tr.dataset.key = k.apiKey;
  tr.innerHTML = `<td class="l mono">${esc(k.apiKey)}</td><td class="l time">${esc(dateTime(k.createdAt))}</td>`
    + `<td><button type="button" class="revoke btn-ghost small">Revoke</button></td>`;
  return tr;
}

/** The new key and its secret, shown once: the box is built with them and never refilled from the server. */
function showNewKey(created) {
  document.getElementById("new-key")?.remove();
  const box = document.createElement("div");
  box.id = "new-key";
  box.className = "new-key";
  box.innerHTML = "<p><b>New key created.</b> Copy the secret now: it will not be shown again.</p>"
    + '<dl><dt>API key</dt><dd><code class="api-key"></code></dd><dt>Secret</dt><dd><code class="secret"></code></dd></dl>';
  box.querySelector(".api-key").textContent = created.apiKey;
  box.querySelector(".secret").textContent = created.secret;
  keyError.before(box);
}

document.getElementById("create-key").addEventListener("click", async () => {
  keyError.textContent = "";
  try {
    const created = await post("/api/v1/apikeys");
    showNewKey(created);
    keysBody.prepend(keyRow({ apiKey: created.apiKey, createdAt: Date.now() }));
    emptyKeys.hidden = true;
  } catch (err) {
    keyError.textContent = err.message;
  }
});

keysBody.addEventListener("click", async (event) => {
  const button = event.target.closest("button.revoke");
  if (!button) return;
  const row = button.closest("tr");
  keyError.textContent = "";
  button.disabled = true;
  try {
    await del(`/api/v1/apikeys/${encodeURIComponent(row.dataset.key)}`);
    row.remove();
    const box = document.getElementById("new-key");
    if (box?.querySelector(".api-key").textContent === row.dataset.key) box.remove();
    emptyKeys.hidden = keysBody.children.length > 0;
  } catch (err) {
    keyError.textContent = err.message;
    button.disabled = false;
  }
});
