// One session: a sticky header, the conversation turn by turn (loaded a page
// at a time as you scroll), the branches where it forked, and the hits of the
// search that led here (n / N step through them).

import { h, clear, compact, fmtTime, fmtDate, fmtDuration, plural, usd } from "./dom.js";
import { agentLabel, resumeOf } from "./agents.js";
import { Transcript } from "./render.js";
import { live } from "./live.js";
import { request } from "./http.js";

const FIRST_PAGE = 100; // lines painted before anything else happens
const PAGE = 200;
const PRELOAD_PX = 1500; // the next page loads when the end is this close

export async function sessionPage(main, id, { api, navigate }) {
  const page = await load(api, id);
  document.title = `${page.s.agent_description || page.s.title || page.s.id} · zergd`;
  const { transcript, view, stuck, ctx } = paint(main, page, api, navigate);
  const pager = new Pager(view, transcript, (query) => api(`${page.path}/lines`, { gen: page.gen, ...query }));
  await pager.first(page.target);
  const hits = new Hits(page.found.hits.filter((hit) => hit.generation === page.gen), page.q, transcript, navigate);
  if (page.target !== null) {
    hits.select(page.target);
    ctx.highlight(`g${page.gen}-${page.target}`);
    document.getElementById(`g${page.gen}-${page.target}`)?.scrollIntoView({ block: "center" });
  }
  return listen(page, pager, transcript, hits, stuck);
}

// --- load: the session, the line asked for, its forks, hits and cost -----------

async function load(api, id) {
  const path = `/api/sessions/${encodeURIComponent(id)}`;
  const params = new URLSearchParams(location.search);
  const anchor = location.hash.match(/^#g(\d+)-(\d+)$/);
  const s = await api(path);
  const newest = s.generations.at(-1)?.gen || 1;
  const gen = Number(params.get("gen") || (anchor && anchor[1]) || newest);
  const q = params.get("q") || "";
  const [forkData, found, cost] = await Promise.all([
    api(`${path}/branches`, { gen }).catch(() => ({ forks: [] })),
    q ? api("/api/search", { q, session: id, limit: 100, per_session: 0 }).catch(() => ({ hits: [] })) : { hits: [] },
    api("/api/stats", { by: "model", session: id }).catch(() => null),
  ]);
  return {
    id, path, s, newest, gen, q, forkData, found, cost,
    branch: params.get("branch"),
    showMeta: params.get("meta") === "1",
    target: anchor && Number(anchor[1]) === gen ? Number(anchor[2]) : null,
  };
}

// --- paint: the header, the subagents and an empty transcript to feed ----------

function paint(main, page, api, navigate) {
  const { s, gen, showMeta, q, cost } = page;
  const branches = chooseBranches(page.forkData.forks, page.branch, page.target);
  const transcript = h("div", { class: `transcript${showMeta ? " show-meta" : ""}` });
  const ctx = {
    provider: s.provider,
    hidden: branches.hidden,
    markerBefore: (line) => branches.markers.get(line.offset)?.(navigate) || null,
    findSubagent: (input) => {
      // The sidecar keeps the Task call's description; older layouts only the prompt.
      const byDescription = input.description && s.subagents.find((c) => c.agent_description === input.description);
      const want = String(input.prompt || "").split(/\s+/).join(" ").slice(0, 200);
      return byDescription || s.subagents.find((c) => c.title && want && c.title === want);
    },
    subagentByAgentId: (agentId) => s.subagents.find((c) => c.agent_id === agentId || c.id.endsWith(agentId)),
    inlineSession: (childId, into) => inlineSession(childId, into, api, ctx),
    highlight: (a) => highlightLine(transcript, a),
    toolOutput: (toolUseId) => request(`${page.path}/tool-results/${encodeURIComponent(toolUseId)}`, { text: true }),
  };
  const view = new Transcript(transcript, ctx);
  const head = sessionHeader(s, gen, showMeta, q, cost);
  const sentinel = h("div", { class: "head-sentinel" });
  clear(main).append(...[sentinel, head, subagentList(s), forkList(s), transcript].filter(Boolean));
  // Once the page scrolls, the sticky header keeps only its title and buttons.
  const stuck = new IntersectionObserver(([e]) => head.classList.toggle("stuck", !e.isIntersecting));
  stuck.observe(sentinel);
  return { transcript, view, stuck, ctx };
}

// --- pages of lines: earlier on request, later as the end comes near -----------

class Pager {
  constructor(view, transcript, lines) {
    this.view = view;
    this.lines = lines;
    this.before = null;
    this.after = -1;
    this.atEnd = false;
    this.loading = null;
    this.older = h("button", { class: "more", type: "button" }, "Load earlier lines");
    this.newer = h("button", { class: "more", type: "button" }, "Load later lines");
    transcript.append(this.older, this.newer);
    this.older.addEventListener("click", () => this.loadOlder());
    this.newer.addEventListener("click", () => this.loadNewer());
    // Pages load before you reach the end, so scrolling does not stop.
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !this.atEnd) this.loadNewer();
    }, { rootMargin: `0px 0px ${PRELOAD_PX}px 0px` });
  }

  // The first page: from the start, or around the line asked for.
  async first(target) {
    if (target !== null) {
      const [head, tail] = await Promise.all([this.lines({ before: target, limit: 50 }), this.lines({ after: target - 1, limit: FIRST_PAGE })]);
      this.view.append([...head.lines, ...tail.lines], this.newer);
      this.before = head.prev_before;
      this.after = tail.lines.length ? tail.lines.at(-1).offset : target;
      this.atEnd = tail.next_after === null;
    } else {
      const page = await this.lines({ limit: FIRST_PAGE });
      this.view.append(page.lines, this.newer);
      this.after = page.lines.length ? page.lines.at(-1).offset : -1;
      this.atEnd = page.next_after === null;
    }
    this.sync();
    this.observer.observe(this.newer); // only now: a page loaded before the first would come twice
  }

  sync() {
    this.older.hidden = this.before === null;
    this.newer.hidden = this.atEnd;
  }

  async loadOlder() {
    this.older.disabled = true;
    const page = await this.lines({ before: this.before, limit: PAGE }).finally(() => (this.older.disabled = false));
    this.view.prepend(page.lines, this.older);
    this.before = page.prev_before;
    this.sync();
  }

  // The observer says when the end comes near; it says nothing while the end
  // stays near (a page that is short, or scroll anchoring keeping the button
  // in view), so each load looks again itself.
  near() {
    return !this.newer.hidden && this.newer.getBoundingClientRect().top < innerHeight + PRELOAD_PX;
  }

  loadNewer() {
    this.loading ??= this.lines({ after: this.after, limit: PAGE }).then((page) => {
      this.view.append(page.lines, this.newer);
      if (page.lines.length) this.after = page.lines.at(-1).offset;
      this.atEnd = page.next_after === null;
      this.sync();
    }).finally(() => {
      this.loading = null;
      requestAnimationFrame(() => { if (!this.atEnd && this.near()) this.loadNewer(); });
    });
    return this.loading;
  }
}

// --- keys and live updates; what leaving the page undoes ------------------------

function listen(page, pager, transcript, hits, stuck) {
  const stopLive = live.on((event) => {
    if (event.session?.id === page.id && pager.atEnd && page.gen === page.newest) pager.loadNewer();
  });
  const keys = (e) => onKey(e, transcript, hits);
  document.addEventListener("keydown", keys);
  return () => {
    pager.observer.disconnect();
    stuck.disconnect();
    stopLive();
    document.removeEventListener("keydown", keys);
  };
}

// --- header -------------------------------------------------------------------

function sessionHeader(s, gen, showMeta, q, cost) {
  const base = `/api/sessions/${encodeURIComponent(s.id)}/export`;
  const genQuery = s.generations.length > 1 ? `gen=${gen}` : "";
  const href = (format) => `${base}?${[genQuery, format ? `format=${format}` : ""].filter(Boolean).join("&")}`.replace(/\?$/, "");
  const toggle = new URLSearchParams(location.search);
  if (showMeta) toggle.delete("meta");
  else toggle.set("meta", "1");
  const tokens = (s.input_tokens || 0) + (s.output_tokens || 0) + (s.cache_creation_tokens || 0) + (s.cache_read_tokens || 0);
  return h("header", { class: "session-head" },
    h("h1", { title: s.agent_description || s.title || "" }, s.agent_description || s.title || "(untitled)"),
    h("div", { class: "card-meta" },
      s.source_deleted_at ? h("span", { class: "badge deleted", title: fmtTime(s.source_deleted_at) }, `source deleted on ${fmtDate(s.source_deleted_at)}, kept here`) : null,
      s.is_subagent ? h("span", { class: "badge" }, s.agent_type ? `subagent · ${s.agent_type}` : "subagent") : null,
      recoveredBadge(s),
      h("span", { class: "project", title: s.project || "" }, s.project || s.project_dir || ""),
      s.git_branch ? h("span", { class: "branch" }, `⎇ ${s.git_branch}`) : null,
      (s.models || []).length ? h("span", { class: "model" }, s.models.join(", ")) : null,
      h("span", { class: "agent", title: s.agent_version ? `${agentLabel(s.provider)} ${s.agent_version}` : null },
        `${agentLabel(s.provider)}${s.entrypoint ? " · " + s.entrypoint : ""}`),
      s.host ? h("span", { class: "machine", title: "the machine it ran on" }, `⌂ ${s.host}`) : null,
      h("span", { title: `${fmtTime(s.first_ts)} – ${fmtTime(s.last_ts)}` }, `${fmtTime(s.first_ts)}${s.first_ts && s.last_ts ? " · " + fmtDuration(s.first_ts, s.last_ts) : ""}`),
      h("span", {}, `${plural(s.user_messages, "prompt")} · ${plural(s.assistant_messages, "reply")} · ${plural(s.tool_calls, "tool call")}`),
      tokens ? h("span", { class: "token-total", title: `input ${(s.input_tokens || 0).toLocaleString()} · output ${(s.output_tokens || 0).toLocaleString()} · cache write ${(s.cache_creation_tokens || 0).toLocaleString()} · cache read ${(s.cache_read_tokens || 0).toLocaleString()}` },
        `${compact(tokens)} tokens (${compact(s.input_tokens)} in · ${compact(s.output_tokens)} out · ${compact(s.cache_creation_tokens)} cache write · ${compact(s.cache_read_tokens)} cache read)`) : null,
      costLabel(cost)),
    s.source_path ? h("div", { class: "source-path" }, h("code", { title: "the transcript this was archived from" }, s.source_path)) : null,
    h("div", { class: "actions" },
      s.parent_session_id ? h("a", { href: `/s/${encodeURIComponent(s.parent_session_id)}`, "data-nav": "" }, "↑ parent session") : null,
      h("a", { href: href(""), download: "", class: "button" }, "Download JSONL"),
      h("a", { href: href("md"), download: "", class: "button" }, "Markdown"),
      h("a", { href: href("html"), download: "", class: "button" }, "HTML"),
      resumeButton(s),
      h("a", { href: `${location.pathname}?${toggle}`, "data-nav": "", class: "button", "aria-pressed": String(showMeta) }, showMeta ? "Hide bookkeeping" : "Show bookkeeping"),
      s.generations.length > 1 ? h("span", {}, "Generation: ", s.generations.map((g) =>
        h("a", { href: `${location.pathname}?gen=${g.gen}`, "data-nav": "", class: g.gen === gen ? "current" : "" }, String(g.gen)))) : null,
      q ? h("span", { class: "hit-nav" }) : null));
}

// "≈ $1.23" from the session's usage report; what the price table does not know is said, not guessed.
function costLabel(cost) {
  const t = cost?.totals;
  if (!t || !t.total_tokens) return null;
  const unknown = t.price_unknown.length ? `no price for ${t.price_unknown.join(", ")}` : "";
  if (t.cost_usd === null) return h("span", { class: "cost", title: unknown }, "cost unknown");
  return h("span", { class: "cost", title: `estimated from genai-prices ${cost.prices.version}${unknown ? "; " + unknown : ""}` },
    `≈ ${usd(t.cost_usd, t.price_unknown)}`);
}

// A session whose transcript was deleted before zergd kept it: its prompts, from the agent's prompt history.
export function recoveredBadge(s) {
  return s.origin === "recovered"
    ? h("span", { class: "badge recovered", title: "the transcript was deleted before zergd could keep it; these prompts were recovered from the agent's prompt history" }, "prompts only, recovered from history")
    : null;
}

function resumeCommand(s) {
  if (s.is_subagent || s.origin === "recovered") return null;  // no transcript to resume
  // A transcript Claude Code deleted (or one from another machine) comes back first: zerg restore.
  const restore = s.source_deleted_at || !s.source_path ? `zerg restore ${s.id} && ` : "";
  const cd = s.project ? `cd ${s.project.startsWith("-") ? "-- " : ""}${shellQuote(s.project)} && ` : "";
  const resume = resumeOf(s.provider, s.id);
  return resume ? `${restore}${cd}${resume}` : null;
}

function shellQuote(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

function resumeButton(s) {
  const cmd = resumeCommand(s);
  if (!cmd) return null;
  const label = cmd.startsWith("zerg restore") ? "Copy restore & resume command" : "Copy resume command";
  const button = h("button", { type: "button", class: "button copy", title: cmd, "data-command": cmd }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(cmd);
      button.textContent = "Copied";
    } catch {
      // No clipboard (an insecure origin, or permission refused): show it to copy by hand.
      const field = h("input", { type: "text", value: cmd, class: "copy-field", "aria-label": "resume command" });
      button.replaceWith(field);
      field.select();
      return;
    }
    setTimeout(() => (button.textContent = label), 2000);
  });
  return button;
}

function subagentList(s) {
  // Subagents nobody prompted (Claude Code 2.0's "Warmup" agents) are left out.
  const real = s.subagents.filter((c) => c.user_messages > 0);
  if (!real.length) return null;
  const items = real.map((c) => h("li", {}, h("a", { href: `/s/${encodeURIComponent(c.id)}`, "data-nav": "" }, c.agent_description || c.title || c.id), h("span", { class: "muted" }, ` · ${plural(c.lines, "line")}`)));
  return h("nav", { class: "subagents", "aria-label": "subagents" }, h("h2", {}, plural(real.length, "subagent")), h("ul", {}, items));
}

// Threads forked from this one (Codex's /fork): each opens with a copy of this one's history.
function forkList(s) {
  if (!s.forks?.length) return null;
  const items = s.forks.map((c) => h("li", {}, h("a", { href: `/s/${encodeURIComponent(c.id)}`, "data-nav": "" }, c.title || c.id), h("span", { class: "muted" }, ` · ${fmtTime(c.first_ts)}`)));
  return h("nav", { class: "subagents forks", "aria-label": "forks" }, h("h2", {}, `Forked into ${plural(s.forks.length, "thread")}`), h("ul", {}, items));
}

// --- branches ---------------------------------------------------------------------

// Which branch of each fork to show: the newest, unless the URL (?branch=) or
// the line a link points at picks another.  Returns the offsets to hide and a
// marker to put where each shown branch leaves the fork.
function chooseBranches(forks, picked, target) {
  const wanted = new Set(String(picked || "").split(",").filter(Boolean).map(Number));
  const hidden = new Set();
  const markers = new Map();
  for (const fork of forks) {
    let chosen = fork.branches.find((b) => wanted.has(b.start)) ||
      (target !== null && fork.branches.find((b) => b.offsets.includes(target))) ||
      fork.branches.find((b) => b.latest) || fork.branches.at(-1);
    for (const b of fork.branches) if (b !== chosen) b.offsets.forEach((o) => hidden.add(o));
    markers.set(chosen.start, (navigate) => forkMarker(fork, chosen, navigate));
  }
  return { hidden, markers };
}

function forkMarker(fork, chosen, navigate) {
  const others = fork.branches.filter((b) => b !== chosen);
  const index = fork.branches.indexOf(chosen) + 1;
  return h("div", { class: "divider fork", "data-fork": fork.at, role: "note" },
    h("span", {}, `⑂ The conversation branched here (rewind or edit): showing branch ${index} of ${fork.branches.length}${chosen.latest ? ", the latest" : ""}.`),
    h("ul", { class: "branches" }, others.map((b) => {
      const params = new URLSearchParams(location.search);
      const picks = new Set((params.get("branch") || "").split(",").filter(Boolean));
      fork.branches.forEach((x) => picks.delete(String(x.start)));
      picks.add(String(b.start));
      params.set("branch", [...picks].join(","));
      return h("li", {}, h("a", { href: `${location.pathname}?${params}`, "data-nav": "", class: "branch-link" },
        `Open branch ${fork.branches.indexOf(b) + 1}${b.latest ? " (latest)" : ""}: “${b.preview || "…"}”`),
        h("span", { class: "muted" }, ` · ${plural(b.lines, "line")} · ${fmtTime(b.ts)}`));
    })));
}

// --- search hits in this session ---------------------------------------------------

class Hits {
  constructor(hits, q, transcript, navigate) {
    this.hits = [...hits].sort((a, b) => a.offset - b.offset);
    this.terms = termsOf(q);
    this.transcript = transcript;
    this.navigate = navigate;
    this.index = -1;
    this.label = document.querySelector(".hit-nav");
    this.render();
  }

  render() {
    if (!this.label) return;
    const n = this.hits.length;
    clear(this.label).append(
      h("button", { type: "button", class: "button", title: "previous hit (N)", onclick: () => this.step(-1), disabled: !n }, "↑"),
      h("span", {}, n ? `${this.index >= 0 ? this.index + 1 : "–"} of ${n}${n === 100 ? "+" : ""} hits` : "no hits here"),
      h("button", { type: "button", class: "button", title: "next hit (n)", onclick: () => this.step(1), disabled: !n }, "↓"));
  }

  select(offset) {
    this.index = this.hits.findIndex((hit) => hit.offset === offset);
    const el = this.transcript.querySelector(`[id$="-${offset}"]`);
    this.transcript.querySelectorAll("[aria-current]").forEach((x) => x.removeAttribute("aria-current"));
    if (el) {
      el.setAttribute("aria-current", "true");
      el.classList.add("revealed");
      reveal(el);
      if (this.terms.length) requestAnimationFrame(() => markTerms(el, this.terms));
    }
    this.render();
    return el;
  }

  step(delta) {
    if (!this.hits.length) return;
    const next = (this.index + delta + this.hits.length) % this.hits.length;
    const hit = this.hits[next];
    const anchor = `g${hit.generation}-${hit.offset}`;
    const el = document.getElementById(anchor);
    if (!el || el.closest("[hidden]")) {
      // Not loaded (or on another branch): open the view around it.
      this.navigate(`${location.pathname}${location.search}#${anchor}`, { replace: true });
      return;
    }
    history.replaceState(history.state, "", `${location.pathname}${location.search}#${anchor}`);
    this.select(hit.offset);
    highlightLine(this.transcript, anchor);
    el.scrollIntoView({ block: "center" });
  }
}

// The words of a query as the index reads them: quotes, a trailing * and the
// operators of raw queries are not words.
function termsOf(q) {
  return [...String(q).matchAll(/"([^"]*)"|(\S+)/g)]
    .flatMap((m) => (m[1] !== undefined ? m[1] : m[2]).split(/\s+/))
    .map((w) => w.replace(/^[(-]+|[)*]+$/g, ""))
    .filter((w) => w && !["AND", "OR", "NOT", "NEAR"].includes(w))
    .map(fold);
}

function fold(text) {
  return text.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

// Open what hides the line's text (folds, long outputs) so its marks show.
function reveal(el) {
  for (const d of [el, ...el.querySelectorAll("details")].filter((x) => x.tagName === "DETAILS")) d.open = true;
  for (let d = el.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
  el.querySelectorAll("button.expand").forEach((b) => b.click());
}

// Wrap each occurrence of the terms in <mark>, matching as the index does:
// case and accents do not count ("yalcin" marks "Yalçın").
export function markTerms(el, terms) {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT, {
    acceptNode: (n) => (n.parentElement.closest("mark, summary.never") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    let folded = "";
    const at = []; // folded index -> [start, end) in text
    for (let i = 0; i < text.length;) {
      const ch = String.fromCodePoint(text.codePointAt(i));
      const f = fold(ch);
      folded += f;
      for (let j = 0; j < f.length; j++) at.push([i, i + ch.length]); // one per UTF-16 unit, as indexOf counts
      i += ch.length;
    }
    const ranges = [];
    for (const term of terms) {
      for (let k = folded.indexOf(term); k >= 0 && term; k = folded.indexOf(term, k + term.length)) ranges.push([at[k][0], at[k + term.length - 1][1]]);
    }
    if (!ranges.length) continue;
    ranges.sort((a, b) => a[0] - b[0]);
    const frag = document.createDocumentFragment();
    let last = 0;
    for (const [start, end] of ranges) {
      if (start < last) continue;
      frag.append(text.slice(last, start), h("mark", {}, text.slice(start, end)));
      last = end;
    }
    frag.append(text.slice(last));
    node.replaceWith(frag);
  }
}

function highlightLine(transcript, anchor) {
  transcript.querySelectorAll(".target").forEach((el) => el.classList.remove("target"));
  const el = document.getElementById(anchor);
  if (!el) return;
  el.classList.add("target", "revealed");
  reveal(el);
}

// --- keyboard ----------------------------------------------------------------------

function onKey(e, transcript, hits) {
  if (e.metaKey || e.ctrlKey || e.altKey) return;
  const t = e.target;
  if (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)) return;
  if (e.key === "j" || e.key === "k") {
    e.preventDefault();
    moveTurn(transcript, e.key === "j" ? 1 : -1);
  } else if (e.key === "n" || e.key === "N") {
    e.preventDefault();
    hits.step(e.key === "n" ? 1 : -1);
  }
}

function moveTurn(transcript, delta) {
  const turns = [...transcript.querySelectorAll(".turn")].filter((el) => el.offsetParent !== null);
  if (!turns.length) return;
  let i = turns.findIndex((el) => el.classList.contains("focused"));
  if (i < 0) {
    // Start from the turn at the top of the screen.
    const top = document.querySelector(".session-head")?.getBoundingClientRect().bottom || 0;
    i = turns.findIndex((el) => el.getBoundingClientRect().bottom > top + 8) - (delta > 0 ? 1 : 0);
  }
  const next = turns[Math.max(0, Math.min(turns.length - 1, i + delta))];
  turns.forEach((el) => el.classList.remove("focused"));
  next.classList.add("focused");
  next.focus({ preventScroll: true });
  next.scrollIntoView({ block: "start" });
}

// --- a subagent inside its parent ---------------------------------------------------

async function inlineSession(childId, into, api, parentCtx) {
  const box = h("div", { class: "transcript inline" });
  into.append(box);
  try {
    const child = await api(`/api/sessions/${encodeURIComponent(childId)}`);
    const page = await api(`/api/sessions/${encodeURIComponent(childId)}/lines`, { limit: 500 });
    const view = new Transcript(box, { ...parentCtx, provider: child.provider, hidden: new Set(), markerBefore: null, highlight: null, findSubagent: null });
    view.append(page.lines);
    box.querySelectorAll("[id]").forEach((el) => el.removeAttribute("id")); // the parent's anchors stay unique
    if (page.next_after !== null) box.append(h("a", { href: `/s/${encodeURIComponent(childId)}`, "data-nav": "" }, "Open the whole subagent transcript"));
  } catch (err) {
    box.append(h("p", { class: "error" }, `Could not load the subagent transcript: ${err.message}`));
  }
}
