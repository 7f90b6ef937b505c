// The Timeline: every page state lives in the URL (filters, search, the
// message a link points at), so back, forward and bookmarks work.

import { h, clear, fmtTime, fmtDay, fmtDuration, plural } from "./dom.js";
import { sessionPage, recoveredBadge } from "./session.js";
import { live } from "./live.js";
import { startBanner } from "./banner.js";
import { api, request } from "./http.js";
import { AGENTS } from "./agents.js";

const main = document.getElementById("main");
startBanner();
showWho();
const searchInput = document.getElementById("search");
let teardown = () => {};

// --- data --------------------------------------------------------------------


// On a team server: who is signed in, and the way out.
async function showWho() {
  const me = await request("/api/me", { signIn: false }).catch(() => null);
  if (!me || !me.team || !me.signed_in) return;
  const signOut = h("button", { type: "button", class: "more", onclick: async () => {
    await request("/api/logout", { method: "POST", body: {} }).catch(() => null);
    location.assign("/login");
  } }, "Sign out");
  document.querySelector("header.top").append(h("span", { class: "who" }, h("span", { id: "who" }, me.name || "owner"), signOut));
}

// --- routing -----------------------------------------------------------------

export function navigate(href, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"]({}, "", href);
  route();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", route);

document.getElementById("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const params = new URLSearchParams(location.pathname === "/" ? location.search : "");
  params.delete("cursor");
  const q = searchInput.value.trim();
  if (q) params.set("q", q);
  else params.delete("q");
  navigate(`/?${params}`);
});

const SHORTCUTS = [["/", "search"], ["j / k", "next / previous turn"], ["n / N", "next / previous search hit in a session"],
  ["?", "this list"], ["Esc", "close it"]];

function showShortcuts() {
  let dialog = document.getElementById("shortcuts");
  if (!dialog) {
    dialog = h("dialog", { id: "shortcuts", "aria-label": "Keyboard shortcuts" },
      h("h2", {}, "Keyboard shortcuts"),
      h("dl", { class: "kv" }, SHORTCUTS.map(([key, what]) => [h("dt", {}, h("kbd", {}, key)), h("dd", {}, what)])),
      h("form", { method: "dialog" }, h("button", { class: "more" }, "Close")));
    document.body.append(dialog);
  }
  if (!dialog.open) dialog.showModal();
}

document.addEventListener("keydown", (e) => {
  if (e.metaKey || e.ctrlKey || e.altKey) return;
  const t = e.target;
  if (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)) return;
  if (e.key === "/") {
    e.preventDefault();
    searchInput.focus();
    searchInput.select();
  } else if (e.key === "?") {
    e.preventDefault();
    showShortcuts();
  }
});

async function route() {
  teardown();
  teardown = () => {};
  const path = location.pathname;
  const what = path.startsWith("/s/") ? "this session" : path === "/chat" ? "the chat" : path === "/usage" ? "usage" : "the Timeline";
  try {
    if (path.startsWith("/s/")) teardown = await sessionPage(main, decodeURIComponent(path.slice(3)), { api, navigate });
    else if (path === "/chat") await (await import("./chat.js")).chatPage(main, { api, navigate });
    else if (path === "/usage") await (await import("./usage.js")).usagePage(main, { api, navigate });
    else await listPage();
  } catch (err) {
    const retry = h("button", { type: "button", class: "more", onclick: () => route() }, "Retry");
    clear(main).append(h("div", { class: "error", role: "alert" }, h("h2", {}, `Could not load ${what}`), h("p", {}, err.message), retry));
  }
}

// --- list and search -----------------------------------------------------------

const PROVIDERS = { claude: "Claude Code", codex: "Codex" };
const FILTERS = ["project", "since", "until", "branch", "model", "provider", "machine", "entrypoint", "subagents"];
// Sessions from more than one machine (others ship here): cards then say which.
let manyMachines = false;

async function listPage() {
  const params = new URLSearchParams(location.search);
  const q = params.get("q") || "";
  searchInput.value = q;
  document.title = q ? `${q} · zergd` : "zergd · Timeline";
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || ""]));
  clear(main);
  const results = h("section", { class: "results", "aria-live": "polite" });
  main.append(await filterBar(filters, q), results);
  if (q) return searchResults(results, q, filters);
  return sessionList(results, filters);
}

async function filterBar(filters, q) {
  const [projects, stats] = await Promise.all([api("/api/projects"), api("/api/stats")]);
  const update = (key, value) => {
    const params = new URLSearchParams(location.search);
    if (value) params.set(key, value);
    else params.delete(key);
    navigate(`/?${params}`);
  };
  const select = (key, label, options) => h("label", {}, label,
    h("select", { name: key, onchange: (e) => update(key, e.target.value) },
      h("option", { value: "" }, "any"),
      options.map((o) => h("option", { value: o, selected: o === filters[key] }, o))));
  const projectSelect = select("project", "Project", projects.projects.map((p) => p.project));
  [...projectSelect.querySelector("select").options].forEach((o) => (o.selected = o.value === filters.project));
  const modelSelect = select("model", "Model", stats.by_model.map((m) => m.model));
  [...modelSelect.querySelector("select").options].forEach((o) => (o.selected = o.value === filters.model));
  const providerSelect = h("label", {}, "Agent",
    h("select", { name: "provider", onchange: (e) => update("provider", e.target.value) },
      h("option", { value: "" }, "any"),
      Object.keys(stats.by_provider).sort().map((p) =>
        h("option", { value: p, selected: p === filters.provider }, PROVIDERS[p] || p))));
  const machines = Object.keys(stats.by_machine || {}).sort();
  manyMachines = machines.length > 1;
  const machineSelect = manyMachines || filters.machine ? select("machine", "Machine", machines) : null;
  // Where the agent ran (the terminal, an editor, the desktop app): once there is a choice.
  const places = Object.keys(stats.by_entrypoint || {}).sort();
  const placeSelect = places.length > 1 || filters.entrypoint ? select("entrypoint", "Ran in", places) : null;
  // On a narrow screen the filters fold behind one button.
  const active = FILTERS.filter((k) => filters[k]).length;
  const toggle = h("button", { type: "button", class: "filters-toggle", "aria-expanded": "false" }, active ? `Filters (${active})` : "Filters");
  const form = h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    projectSelect,
    h("label", {}, "From", h("input", { type: "date", name: "since", value: filters.since, onchange: (e) => update("since", e.target.value) })),
    h("label", {}, "To", h("input", { type: "date", name: "until", value: filters.until, onchange: (e) => update("until", e.target.value) })),
    h("label", {}, "Branch", h("input", { type: "text", name: "branch", value: filters.branch, placeholder: "any", onchange: (e) => update("branch", e.target.value.trim()) })),
    modelSelect,
    providerSelect,
    machineSelect,
    placeSelect,
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "subagents", checked: filters.subagents === "1", onchange: (e) => update("subagents", e.target.checked ? "1" : "") }), "Subagents"),
    FILTERS.some((k) => filters[k]) || q ? h("a", { href: "/", "data-nav": "", class: "reset" }, "Clear") : null);
  const bar = h("div", { class: "filter-bar" }, toggle, form);
  toggle.addEventListener("click", () => {
    const open = bar.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(open));
  });
  return bar;
}

function sessionQuery(filters) {
  return { ...filters, subagents: filters.subagents === "1" ? "true" : "false" };
}

async function sessionList(results, filters) {
  const page = await api("/api/sessions", { ...sessionQuery(filters), limit: 50 });
  if (!page.sessions.length) {
    results.append(await emptyState(filters));
    return;
  }
  const list = h("div", { class: "days" });
  results.append(list);
  addSessions(list, page.sessions);
  let cursor = page.next;
  const more = h("button", { class: "more", type: "button" }, "Load older sessions");
  more.addEventListener("click", async () => {
    more.disabled = true;
    const next = await api("/api/sessions", { ...sessionQuery(filters), limit: 50, cursor });
    addSessions(list, next.sessions);
    cursor = next.next;
    more.disabled = false;
    if (!cursor) more.remove();
  });
  if (cursor) results.append(more);
  teardown = live.on(async (event) => {
    if (!event.type.startsWith("session.")) return;
    const fresh = await api("/api/sessions", { ...sessionQuery(filters), limit: 50 }).catch(() => null);
    if (!fresh) return;
    const wanted = fresh.sessions.find((s) => s.id === event.session.id);
    if (wanted) upsertCard(list, wanted);
  });
}

function dayKey(s) {
  return (s.last_ts || s.first_ts || "").slice(0, 10) || "undated";
}

function dayGroup(list, s, { top = false } = {}) {
  const key = dayKey(s);
  let group = list.querySelector(`section[data-day="${key}"]`);
  if (!group) {
    group = h("section", { class: "day", "data-day": key }, h("h2", {}, key === "undated" ? "Undated" : fmtDay(s.last_ts || s.first_ts)), h("div", { class: "cards" }));
    if (top) list.prepend(group);
    else list.append(group);
  }
  return group.querySelector(".cards");
}

function addSessions(list, sessions) {
  for (const s of sessions) dayGroup(list, s).append(card(s));
}

function upsertCard(list, s) {
  const old = list.querySelector(`[data-session="${CSS.escape(s.id)}"]`);
  const fresh = card(s);
  fresh.classList.add("flash");
  if (old && old.closest("section").dataset.day === dayKey(s)) old.replaceWith(fresh);
  else {
    old?.remove();
    dayGroup(list, s, { top: true }).prepend(fresh);
  }
}

function isLive(s) {
  return !s.source_deleted_at && s.last_ts && Date.now() - new Date(s.last_ts) < 5 * 60 * 1000;
}

function card(s) {
  const models = (s.models || []).join(", ");
  return h("a", { class: "card", href: `/s/${encodeURIComponent(s.id)}`, "data-nav": "", "data-session": s.id },
    h("div", { class: "card-title" },
      isLive(s) ? h("span", { class: "badge live" }, "live") : null,
      s.source_deleted_at ? h("span", { class: "badge deleted", title: `source deleted ${fmtTime(s.source_deleted_at)}` }, "source deleted — kept in archive") : null,
      s.is_subagent ? h("span", { class: "badge" }, "subagent") : null,
      recoveredBadge(s),
      h("span", { class: "title" }, s.agent_description || s.title || "(untitled)")),
    h("div", { class: "card-meta" },
      h("span", { class: "project", title: s.project || "" }, s.project || s.project_dir || "—"),
      s.git_branch ? h("span", { class: "branch" }, `⎇ ${s.git_branch}`) : null,
      models ? h("span", { class: "model" }, models) : null,
      h("span", { class: "provider" }, s.provider),
      manyMachines ? h("span", { class: "machine", title: "the machine it ran on" }, `⌂ ${s.host}`) : null,
      h("span", {}, fmtTime(s.last_ts || s.first_ts)),
      s.first_ts && s.last_ts ? h("span", {}, fmtDuration(s.first_ts, s.last_ts)) : null,
      h("span", { class: "counts" }, `${plural(s.user_messages, "prompt")} · ${plural(s.assistant_messages, "reply")} · ${plural(s.tool_calls, "tool call")}`)));
}

async function emptyState(filters) {
  if (FILTERS.some((k) => filters[k])) return h("p", { class: "empty" }, "No sessions match these filters. ", h("a", { href: "/", "data-nav": "" }, "Clear them"));
  const status = await api("/api/status").catch(() => ({ roots: [] }));
  return h("div", { class: "empty" },
    h("h2", {}, "No sessions yet"),
    h("p", {}, "zergd archives every transcript written in these folders, as it is written:"),
    h("ul", {}, status.roots.map((r) => h("li", {}, h("code", {}, r.path), ` (${r.provider}${r.exists ? "" : ", does not exist yet"})`))),
    h("p", {}, "To watch other folders, set ", ...Object.values(AGENTS).flatMap((a, i) => [i ? ", " : "", h("code", {}, a.env)]),
      " (or ", Object.values(AGENTS).map((a) => a.setting).join(" / "), " in ",
      h("code", {}, `${status.zerg_home || "~/.zerg"}/config.toml`), ") and restart with ",
      h("code", {}, "zergd stop && zergd start"), "."));
}

async function searchResults(results, q, filters) {
  const found = await api("/api/search", { q, ...filters, subagents: null, limit: 50 });
  if (!found.hits.length) {
    results.append(h("p", { class: "empty" }, `Nothing found for “${q}”.`));
    return;
  }
  results.append(h("p", { class: "muted" }, `${found.hits.length}${found.hits.length === 50 ? "+" : ""} matches`));
  results.append(h("ol", { class: "hits" }, found.hits.map((hit) =>
    h("li", {}, h("a", { class: "hit", href: `/s/${encodeURIComponent(hit.session_id)}?q=${encodeURIComponent(q)}#g${hit.generation}-${hit.offset}`, "data-nav": "" },
      h("div", { class: "hit-title" }, hit.title || hit.session_id),
      h("div", { class: "snippet" }, hit.snippet.map((p) => (p.hit ? h("mark", {}, p.text) : p.text))),
      h("div", { class: "card-meta" }, h("span", {}, hit.project || ""), h("span", {}, hit.role || hit.type || ""), h("span", {}, fmtTime(hit.ts)), h("span", {}, `line ${hit.lineno}`)))))));
}

route();
