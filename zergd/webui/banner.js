// A banner above every page while the archive has files set aside (a FIFO,
// a link out of the watched folders, a disk that is full...), or shipping to
// another zergd is in trouble: status never looks fine while something is not.  Refreshed on status.changed events.
// While the first backfill runs (gigabytes of history take minutes), a
// progress line says how far it is.

import { h, clear, plural } from "./dom.js";
import { live } from "./live.js";
import { request } from "./http.js";

const KIND_TEXT = { skipped: "skipped", waiting: "waiting to retry", error: "could not be archived" };

const MB = 1e6;

function showProgress(el, p) {
  clear(el);
  el.hidden = !p;
  if (!p) return;
  const eta = p.eta_s ? ` · about ${p.eta_s < 90 ? `${Math.ceil(p.eta_s)} s` : `${Math.round(p.eta_s / 60)} min`} left` : "";
  el.append(
    h("span", {}, `Archiving your history: ${p.files_done.toLocaleString()} of ${p.files_total.toLocaleString()} files · `
      + `${(p.bytes_done / MB).toFixed(1)} of ${(p.bytes_total / MB).toFixed(1)} MB · ${(p.bytes_per_s / MB).toFixed(1)} MB/s${eta}`),
    h("progress", { value: p.bytes_done, max: Math.max(p.bytes_total, 1) }),
  );
}

async function refresh(banner, progress) {
  let status;
  try {
    status = await request("/api/status");
  } catch {
    return;
  }
  showProgress(progress, status.backfill);
  if (status.backfill || status.state === "starting") setTimeout(() => refresh(banner, progress), 1500);
  const faults = status.faults || [];
  const ship = shippingTrouble(status.shipping);
  clear(banner);
  banner.hidden = faults.length === 0 && !status.error && !ship;
  if (banner.hidden) return;
  if (faults.length || status.error) {
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
  if (ship) banner.append(ship);
}

// Shipping to another zergd (zergd start --ship-to) that waits or was refused some files.
function shippingTrouble(s) {
  if (!s || (!s.error && !(s.conflicts || []).length)) return null;
  const behind = s.files_behind ? `${plural(s.files_behind, "file")} (${(s.bytes_behind / MB).toFixed(1)} MB) not shipped yet` : "nothing behind";
  const summary = s.error
    ? `Shipping to ${s.to} is paused: ${s.error} — ${behind}; retried automatically, nothing is lost.`
    : `Shipping to ${s.to}: ${plural(s.conflicts.length, "file")} refused there (a different file under the same name).`;
  return h("details", { class: "shipping" },
    h("summary", {}, summary),
    h("ul", {}, (s.conflicts || []).map((c) => h("li", {}, h("code", {}, `${c.provider}/${c.rel}`), ` ${c.reason}`))));
}

export function startBanner() {
  const progress = h("div", { id: "backfill-progress", class: "backfill-progress", role: "status", hidden: true });
  const banner = h("div", { id: "status-banner", class: "status-banner", role: "status", hidden: true });
  document.body.insertBefore(progress, document.getElementById("main"));
  document.body.insertBefore(banner, document.getElementById("main"));
  refresh(banner, progress);
  live.on((event) => {
    if (event.type === "status.changed") refresh(banner, progress);
  });
}
