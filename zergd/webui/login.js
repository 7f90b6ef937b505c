// The sign-in page of a team server: the form posts JSON to /api/login (our
// own origin), then goes where the visitor was headed - only ever a path on
// this site, never another origin (an open redirect would serve phishing).

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
    const resp = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name: form.elements.name.value, password: form.elements.password.value }),
    });
    if (resp.ok) {
      location.assign(nextPath());
      return;
    }
    const body = await resp.json().catch(() => ({}));
    error.textContent = body.detail || `sign-in failed (${resp.status})`;
    error.hidden = false;
    form.elements.password.select();
  } catch {
    error.textContent = "zergd is not answering";
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
