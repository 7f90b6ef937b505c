// The Usage page: cost (or tokens) per day as bars stacked by model, the
// split by model and by project, and the sessions that cost most.  Drawn as
// SVG built with the DOM (no chart library, no HTML strings); colours come
// from CSS so dark mode reads.  Every figure is /api/stats?by=…

import { h, clear, compact, usd } from "./dom.js";
import { AGENTS } from "./agents.js";

const SVG = "http://www.w3.org/2000/svg";
const RANGES = { "30": "last 30 days", "90": "last 90 days", "365": "last year", "": "all time" };
const PROVIDERS = { "": "all agents", ...Object.fromEntries(Object.entries(AGENTS).map(([name, a]) => [name, a.label])) };

export async function usagePage(main, { api, navigate }) {
  const params = new URLSearchParams(location.search);
  let days = params.has("days") ? params.get("days") : "30";
  const provider = params.get("provider") || "";
  const measure = params.get("measure") === "tokens" ? "tokens" : "cost";
  let query = { since: days ? `${days}d` : null, provider: provider || null };
  document.title = "Usage · zergd";
  const fetchAll = (q) => Promise.all(["day", "model", "project", "session", "block"].map((by) => api("/api/stats", { by, ...q })));
  let [byDay, byModel, byProject, bySession, byBlock] = await fetchAll(query);
  let note = null;
  if (!params.has("days") && !byDay.totals.messages) {
    // Nothing in the last 30 days: open on the 30 days up to the last one that had usage, and say so.
    const all = await api("/api/stats", { by: "day", provider: provider || null });
    const last = all.rows.map((r) => r.key).filter(Boolean).sort().at(-1);
    if (last) {
      const first = new Date(`${last}T00:00:00Z`);
      first.setUTCDate(first.getUTCDate() - 29);
      query = { since: first.toISOString().slice(0, 10), until: last, provider: provider || null };
      [byDay, byModel, byProject, bySession, byBlock] = await fetchAll(query);
      days = "active";
      note = `Nothing in the last 30 days: showing the 30 days up to ${last}, the last day with usage.`;
    }
  }
  const set = (key, value) => {
    const next = new URLSearchParams(location.search);
    if (value === null || value === undefined) next.delete(key);
    else next.set(key, value);
    navigate(`/usage?${next}`, { replace: true });
  };
  const t = byDay.totals;
  clear(main).append(
    h("header", { class: "usage-head" },
      h("h1", {}, "Usage"),
      h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
        h("label", {}, "Period", h("select", { name: "days", onchange: (e) => set("days", e.target.value) },
          days === "active" ? h("option", { value: "active", selected: true, disabled: true }, "the last 30 days with usage") : null,
          Object.entries(RANGES).map(([v, label]) => h("option", { value: v, selected: v === days }, label)))),
        h("label", {}, "Agent", h("select", { name: "provider", onchange: (e) => set("provider", e.target.value || null) },
          Object.entries(PROVIDERS).map(([v, label]) => h("option", { value: v, selected: v === provider }, label)))),
        h("label", {}, "Show", h("select", { name: "measure", onchange: (e) => set("measure", e.target.value === "cost" ? null : e.target.value) },
          h("option", { value: "cost", selected: measure === "cost" }, "cost (USD)"),
          h("option", { value: "tokens", selected: measure === "tokens" }, "tokens"))))),
    h("section", { class: "usage-totals" },
      figure("estimated cost", usd(t.cost_usd, t.price_unknown)),
      figure("tokens", compact(t.total_tokens)),
      figure("input · output", `${compact(t.input_tokens)} · ${compact(t.output_tokens)}`),
      figure("cache write · read", `${compact(t.cache_creation_tokens)} · ${compact(t.cache_read_tokens)}`),
      figure("model calls", t.messages.toLocaleString()),
      figure("sessions", t.sessions.toLocaleString())),
    note ? h("p", { class: "notice period-note" }, note) : null,
    byDay.rows.length ? chart(byDay.rows, measure) : h("p", { class: "empty" }, "No usage recorded in this period."),
    h("p", { class: "muted small" }, `Prices from genai-prices ${byDay.prices.version}, read offline; days in ${byDay.time_zone}.`,
      t.price_unknown.length ? ` No price for ${t.price_unknown.join(", ")}: their tokens count, their cost is unknown.` : ""),
    h("div", { class: "usage-tables" },
      // A "(no model)" row that used nothing is noise.
      table("By model", byModel.rows.filter((r) => r.key || r.total_tokens), (r) => r.key || "(no model)"),
      table("By project", byProject.rows.slice(0, 15), (r) => r.key || "(no project)")),
    table("Sessions that cost most", bySession.rows.slice(0, 15), (r) =>
      h("a", { href: `/s/${encodeURIComponent(r.key)}`, "data-nav": "" }, r.title || r.key)),
    provider && !AGENTS[provider]?.usage_windows ? null : blocks(byBlock.rows.slice(0, 12)));
}

// Claude's plans meter usage in 5-hour windows (as ccusage's `blocks`).
function blocks(rows) {
  return h("section", { class: "usage-table blocks" }, h("h2", {}, "5-hour windows (Claude Code)"),
    rows.length ? h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "window"), h("th", {}, "calls"), h("th", {}, "tokens"), h("th", {}, "cost"))),
      h("tbody", {}, rows.map((r) => h("tr", { class: r.active ? "active" : "", "data-active": String(r.active) },
        h("td", { class: "name" }, `${fmtWindow(r.start)} – ${fmtWindow(r.end).slice(-5)}`, r.active ? h("span", { class: "badge live" }, "now") : null),
        h("td", {}, r.messages.toLocaleString()), h("td", {}, compact(r.total_tokens)), h("td", {}, usd(r.cost_usd, r.price_unknown))))))
      : h("p", { class: "muted" }, "No Claude Code usage in this period."));
}

function fmtWindow(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString([], { dateStyle: "medium", timeStyle: "short", hour12: false });
}

function figure(label, value) {
  return h("div", { class: "figure" }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

function table(title, rows, label) {
  // Projects carry their group when config.toml's [projects.groups] names some.
  const grouped = rows.some((r) => "group" in r);
  return h("section", { class: "usage-table" }, h("h2", {}, title),
    h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, ""), grouped ? h("th", {}, "group") : null, h("th", {}, "tokens"), h("th", {}, "cost"))),
      h("tbody", {}, rows.map((r) => h("tr", {},
        h("td", { class: "name" }, label(r)), grouped ? h("td", { class: "group" }, r.group || "—") : null,
        h("td", {}, compact(r.total_tokens)), h("td", {}, usd(r.cost_usd, r.price_unknown)))))));
}

// Bars per day, oldest on the left, each stacked by model.  Each model has
// its own colour from the Okabe-Ito palette (told apart with colour-blind
// sight, and on a dark page): the seven that used most, each keeping the
// colour its name picks where it is free; the rest together, in grey.
const PALETTE = 7;

export function coloursOf(totals) {
  const ranked = [...totals.entries()].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([m]) => m);
  const colours = new Map();
  const taken = new Set();
  for (const model of ranked.slice(0, PALETTE)) {
    let c = [...model].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7) % PALETTE;
    while (taken.has(c)) c = (c + 1) % PALETTE;
    taken.add(c);
    colours.set(model, `c${c}`);
  }
  for (const model of ranked.slice(PALETTE)) colours.set(model, "cother");
  return colours;
}

function chart(rows, measure) {
  const days = calendar([...rows].filter((r) => r.key).reverse());
  const value = (part) => (measure === "cost" ? part.cost_usd || 0 : part.tokens);
  const sums = new Map();
  for (const r of days) for (const [m, part] of Object.entries(r.by_model)) sums.set(m, (sums.get(m) || 0) + value(part));
  const colours = coloursOf(sums);
  const models = [...colours.keys()];
  const totals = days.map((r) => Object.values(r.by_model).reduce((sum, p) => sum + value(p), 0));
  const top = Math.max(...totals, measure === "cost" ? 0.01 : 1);
  const width = 800;
  const height = 240;
  const pad = { left: 56, bottom: 24, top: 10 };
  const slot = (width - pad.left) / Math.max(days.length, 1);
  const bar = Math.max(1, slot * 0.72);
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, class: "usage-chart", role: "img",
    "aria-label": `${measure} per day by model` });
  const scale = (v) => ((height - pad.bottom - pad.top) * v) / top;
  for (const frac of [0, 0.5, 1]) {
    const y = height - pad.bottom - scale(top * frac);
    svg.append(el("line", { x1: pad.left, x2: width, y1: y, y2: y, class: "grid" }),
      text(pad.left - 6, y + 4, measure === "cost" ? `$${(top * frac).toFixed(top < 1 ? 2 : 0)}` : compact(top * frac), "end"));
  }
  days.forEach((r, i) => {
    let y = height - pad.bottom;
    const x = pad.left + i * slot + (slot - bar) / 2;
    for (const model of models) {
      const part = r.by_model[model];
      if (!part || !value(part)) continue;
      const hgt = scale(value(part));
      y -= hgt;
      const rect = el("rect", { x, y, width: bar, height: Math.max(hgt, 0.5), class: `series ${colours.get(model)}`, "data-day": r.key, "data-model": model });
      rect.append(el("title", {}, `${r.key} · ${model}: ${measure === "cost" ? usd(part.cost_usd, []) : compact(part.tokens) + " tokens"}`));
      svg.append(rect);
    }
    const every = Math.ceil(days.length / 10);
    if (i % every === 0) svg.append(text(x + bar / 2, height - 6, r.key.slice(5), "middle"));
  });
  const named = models.filter((m) => colours.get(m) !== "cother");
  const others = models.length - named.length;
  const legend = h("ul", { class: "legend", "aria-label": "models" },
    named.map((m) => h("li", { "data-model": m }, h("span", { class: `swatch ${colours.get(m)}` }), m)),
    others ? h("li", { "data-model": "" }, h("span", { class: "swatch cother" }), `${others} other model${others === 1 ? "" : "s"}`) : null);
  return h("figure", { class: "usage-figure" }, svg, legend);
}

// Every day from the first to the last, the quiet ones as empty bars: a gap
// in the work shows as a gap.
function calendar(rows) {
  if (rows.length < 2) return rows;
  const byDay = new Map(rows.map((r) => [r.key, r]));
  const out = [];
  const day = new Date(`${rows[0].key}T00:00:00Z`);
  const last = new Date(`${rows.at(-1).key}T00:00:00Z`);
  for (let n = 0; day <= last && n < 3700; n++) {
    const key = day.toISOString().slice(0, 10);
    out.push(byDay.get(key) || { key, by_model: {} });
    day.setUTCDate(day.getUTCDate() + 1);
  }
  return out;
}

function el(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

function text(x, y, content, anchor) {
  return el("text", { x, y, "text-anchor": anchor, class: "axis" }, String(content));
}


