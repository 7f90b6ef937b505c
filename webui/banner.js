// A banner above every page while the archive has files set aside (a FIFO,
// a link out of the watched folders, a disk that is full...): status never
// looks fine while something is not.  Refreshed on status.changed events.

import { h, clear, plural } from "./dom.js";
import { live } from "./live.js";

const KIND_TEXT = { skipped: "skipped", waiting: "waiting to retry", error: "could not be archived" };

async function refresh(banner) {
  let status;
  try {
    const resp = await fetch("/api/status", { headers: { Accept: "application/json" } });
    status = await resp.json();
  } catch {
    return;
  }
  const faults = status.faults || [];
  clear(banner);
  banner.hidden = faults.length === 0 && !status.error;
  if (banner.hidden) return;
  const files = faults.filter((f) => f.path !== "index");
  const summary = status.error
    ? `The index is not taking writes: ${status.error}`
    : `${plural(files.length, "file")} set aside by the archive`;
  banner.append(
    h("details", {},
      h("summary", {}, summary, " — nothing else is affected; retried automatically."),
      h("ul", {}, faults.map((f) => h("li", {}, h("code", {}, f.path), ` ${KIND_TEXT[f.kind] || f.kind}: ${f.reason}`))),
    ),
  );
}

export function startBanner() {
  const banner = h("div", { id: "status-banner", class: "status-banner", role: "status", hidden: true });
  document.body.insertBefore(banner, document.getElementById("main"));
  refresh(banner);
  live.on((event) => {
    if (event.type === "status.changed") refresh(banner);
  });
}
