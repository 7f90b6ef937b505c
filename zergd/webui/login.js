// The sign-in page of a team server: the form posts JSON to /api/login (our
// own origin), then goes where the visitor was headed - only ever a path on
// this site, never another origin (an open redirect would serve phishing).

import { request } from "./http.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  error.hidden = true;
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    await request("/api/login", { method: "POST", signIn: false,
      body: { name: form.elements.name.value, password: form.elements.password.value } });
    location.assign(nextPath());
    return;
  } catch (e) {
    error.textContent = e.status ? e.detail || `sign-in failed (${e.status})` : "zergd is not answering";
    error.hidden = false;
    if (e.status) form.elements.password.select();
  } finally {
    button.disabled = false;
  }
});
