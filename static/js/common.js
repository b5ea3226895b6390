// What every page does: open the tab's socket (the header shows its state), wire the log-out
// button, and show server-rendered times in the browser's time zone.
import { post } from "./api.js";
import { dateTime, timeOfDay } from "./format.js";
import { socket } from "./ws.js";

socket.start();

const logout = document.getElementById("nav-logout");
if (logout) {
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try {
      await post("/api/v1/auth/logout");
    } catch (err) {
      // The session may already be gone; the cookie is cleared either way below.
      console.warn(err.message);
    }
    location.href = "/";
  });
}

/** Rewrite `[data-ts]` cells (UTC from the server) in local time, in the format the markup names. */
function localizeTimes() {
  for (const el of document.querySelectorAll("[data-ts]")) {
    const ms = Number(el.dataset.ts);
    el.textContent = el.dataset.tsFormat === "datetime" ? dateTime(ms) : timeOfDay(ms);
  }
}

localizeTimes();
