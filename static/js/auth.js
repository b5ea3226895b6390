// Sign-up and log-in forms: POST the credentials, then go to `next`. Errors in #auth-error.
import "./common.js";
import { post } from "./api.js";

const form = document.querySelector("#signup-form, #login-form");
const error = document.getElementById("auth-error");
const signup = form.id === "signup-form";

function problem(username, password) {
  if (!username) return "Enter a username.";
  if (signup && !/^[A-Za-z0-9_.-]{3,32}$/.test(username)) {
    return "A username has 3 to 32 characters: letters, digits, _ . or -.";
  }
  if (!password) return "Enter your password.";
  if (signup && (password.length < 8 || password.length > 128)) {
    return "A password has 8 to 128 characters.";
  }
  return null;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  const username = form.querySelector("#username").value.trim();
  const password = form.querySelector("#password").value;
  const local = problem(username, password);
  if (local) {
    error.textContent = local;
    return;
  }
  const button = form.querySelector("[type=submit]");
  button.disabled = true;
  try {
    await post(`/api/v1/auth/${signup ? "signup" : "login"}`, { username, password });
    const next = form.dataset.next || "/";
    location.href = next.startsWith("/") && !next.startsWith("//") ? next : "/";
  } catch (err) {
    error.textContent = err.message;
    button.disabled = false;
  }
});
