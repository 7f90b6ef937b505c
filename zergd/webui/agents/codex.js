// Codex's lines: {timestamp, type, payload}, or (before 2025-09) bare
// response items.  See zergd/transcript/codex.py.

import { h } from "../dom.js";
import { markdown } from "../markdown.js";
import { VOCABULARY, startsWithAny } from "../agents.js";
import { anchorOf, collapsible } from "../parts.js";

const INJECTED = startsWithAny(VOCABULARY.codex_context);
const BARE = new Set(VOCABULARY.codex_items);
const CALLS = new Set(VOCABULARY.codex_calls);
const OUTPUTS = new Set(VOCABULARY.codex_outputs);

const isObject = (v) => v && typeof v === "object" && !Array.isArray(v);

export const codex = {
  name: "codex",
  claims: (obj) => !isObject(obj.message) && (isObject(obj.payload) || BARE.has(obj.type)),
  feed(view, line, obj, state, frag) {
    // A forked or spawned thread opens with a copy of its origin's history (index/forks.py).
    if (Boolean(line.copied) !== Boolean(state.inCopy)) {
      state.inCopy = Boolean(line.copied);
      state.turn = null;
      frag.append(h("div", { class: "divider copied" }, h("span", {}, line.copied
        ? "Copied from the thread this one was forked from: shown here, counted and found there"
        : "This thread's own work")));
    }
    if (isObject(obj.payload)) return feedItem(view, line, obj.type, obj.payload, obj.timestamp, state, frag);
    return feedItem(view, line, "response_item", obj, null, state, frag);
  },
};

function feedItem(view, line, kind, p, ts, state, frag) {
  const t = p.type;
  if (kind === "turn_context") view.noteWhere(p.cwd, null, state);
  if (kind === "turn_context" && p.model) view.noteModel(p.model, null, state);
  if (kind === "session_meta") view.noteWhere(p.cwd, p.git?.branch, state);
  if (kind === "compacted") return view.divider(line, frag, "compaction", "Conversation compacted");
  if (kind === "event_msg" && t === "error") {
    const turn = state.turn || view.turn("assistant", line, state, frag);
    return view.msg(line, turn).append(h("div", { class: "notice error" }, `Error: ${p.message ?? ""}`));
  }
  if (kind === "event_msg" && t === "token_count" && p.info?.last_token_usage && state.turn) {
    const u = p.info.last_token_usage;
    // Codex repeats a token_count event unchanged; its running total names it.
    view.tokens(state.turn, `codex-${p.info.total_token_usage?.total_tokens ?? line.offset}`, { input_tokens: u.input_tokens, output_tokens: u.output_tokens, cache_read_input_tokens: u.cached_input_tokens }, state);
  }
  if (kind === "response_item" && t === "message") {
    const text = (Array.isArray(p.content) ? p.content : []).map((c) => (c && typeof c.text === "string" ? c.text : "")).join("\n\n");
    if (p.role === "developer" || INJECTED.test(text)) {
      return view.bookkeeping(line, p, `context Codex adds (${p.role || "message"}): ${text.replace(/\s+/g, " ").slice(0, 120)}`, state, frag, text);
    }
    const turn = view.turn(p.role === "user" ? "user" : "assistant", line, state, frag, p.role === "user");
    return view.msg(line, turn).append(markdown(text));
  }
  if (kind === "response_item" && CALLS.has(t)) {
    let input = p.arguments ?? p.input ?? p.action;
    if (typeof input === "string") {
      try { input = JSON.parse(input); } catch { /* a patch or a plain string */ }
    }
    const turn = view.turn("assistant", line, state, frag);
    return view.msg(line, turn).append(view.tool(t === "function_call" || t === "custom_tool_call" ? p.name || t : t, p.call_id, input));
  }
  if (kind === "response_item" && OUTPUTS.has(t)) {
    let out = p.output;
    let exit = null;
    if (typeof out === "string" && out.startsWith("{")) {
      try {
        const inner = JSON.parse(out);
        if (inner && typeof inner.output === "string") out = inner.output;
        if (inner && Number.isInteger(inner.metadata?.exit_code)) exit = inner.metadata.exit_code;
      } catch { /* plain text */ }
    }
    const text = typeof out === "string" ? out : JSON.stringify(out, null, 2);
    return view.result(p.call_id, { text, isError: failed(text, exit), anchor: anchorOf(line), lineno: line.lineno }, line, state, frag);
  }
  if (kind === "response_item" && t === "reasoning") {
    const text = (p.summary || []).map((s) => (s && s.text) || "").join("\n\n");
    const turn = view.turn("assistant", line, state, frag);
    return view.msg(line, turn).append(text ? collapsible("Thinking", () => markdown(text), "thinking") : h("p", { class: "muted small" }, "(encrypted reasoning)"));
  }
  if (kind === "event_msg" && t === "item_completed" && isObject(p.item)) return feedTurnItem(view, line, p.item, state, frag);
  return view.other(line, line.obj, state, frag);
}

// Paginated history (0.148 on): a turn's items as item_completed events,
// each a TurnItem (codex-rs/protocol/src/items.rs).
const TURN_TOOLS = VOCABULARY.codex_turn_tools || {};

function feedTurnItem(view, line, item, state, frag) {
  const texts = (blocks) => (Array.isArray(blocks) ? blocks : []).map((c) => (c && typeof c.text === "string" ? c.text : ""));
  if (item.type === "UserMessage") {
    const text = texts(item.content).join("");
    if (INJECTED.test(text)) return view.bookkeeping(line, item, `context Codex adds: ${text.replace(/\s+/g, " ").slice(0, 120)}`, state, frag, text);
    return view.msg(line, view.turn("user", line, state, frag, true)).append(markdown(text));
  }
  if (item.type === "AgentMessage") return view.msg(line, view.turn("assistant", line, state, frag)).append(markdown(texts(item.content).join("\n\n")));
  if (item.type === "Reasoning" || item.type === "Plan") {
    const text = item.type === "Plan" ? String(item.text ?? "") : (item.summary_text || []).join("\n\n");
    const body = item.type === "Plan" ? markdown(text) : collapsible("Thinking", () => markdown(text), "thinking");
    return view.msg(line, view.turn("assistant", line, state, frag)).append(body);
  }
  const name = TURN_TOOLS[item.type];
  if (!name) return view.other(line, line.obj, state, frag);
  const argv = Array.isArray(item.command) ? item.command.map(String) : [];
  const input = item.type === "CommandExecution" ? { command: (["-lc", "-c"].includes(argv[1]) ? argv.slice(2) : argv).join(" ") }
    : item.type === "FileChange" ? { files: Object.keys(item.changes || {}) }
      : item.type === "WebSearch" ? { query: item.query } : { tool: item.tool, arguments: item.arguments };
  view.msg(line, view.turn("assistant", line, state, frag)).append(view.tool(name, item.id, input));
  const output = item.aggregatedOutput ?? item.stdout ?? "";
  if (output) view.result(item.id, { text: output, isError: item.status === "failed", anchor: null, lineno: line.lineno }, line, state, frag);
}

// A tool call Codex reports as failed: a non-zero exit code (in the output's
// metadata or its "Exit code: N" header), or the harness's own failures.
const FAILURES = /^(execution error:|apply_patch verification failed)|failed in sandbox|^Exit code: [1-9]\d*$/m;

function failed(text, exit) {
  return (exit !== null && exit !== 0) || FAILURES.test(text);
}

