// Transcript lines -> turns.  A turn is what one side said: a prompt the user
// typed, or everything the agent did until the next prompt (its text,
// thinking, and each tool call with its result inside).  Every line still has
// its own element and anchor (g<gen>-<offset>), so a permalink or a search hit
// lands on the exact line.  Claude Code lines carry `message.content` blocks;
// Codex lines are {type, payload} (or, before 2025-09, bare items).  Anything
// not understood is shown as raw JSON, never dropped.

import { h, fmtTime } from "./dom.js";
import { markdown } from "./markdown.js";
import { describeBookkeeping } from "./bookkeeping.js";
import { attachResult, folded, stripAnsi, toolElement } from "./tools.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
// What Codex writes into the conversation on the user's behalf.
// zergd/transcript/vocabulary.py CODEX_CONTEXT (tests/test_vocabulary.py holds the two equal).
const CODEX_CONTEXT = ["<environment_context>", "<user_instructions>", "<user_shell_command>",
  "<permissions instructions>", "# AGENTS.md instructions"];
const escapeRe = (text) => text.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
const INJECTED = new RegExp("^\\s*(" + CODEX_CONTEXT.map(escapeRe).join("|") + ")");
const WRAPPED = /<(ide_selection|ide_opened_file|system-reminder|ide_diagnostics)>([\s\S]*?)<\/\1>/;
const WRAPPED_NAMES = { ide_selection: "IDE selection", ide_opened_file: "File open in the IDE", "system-reminder": "System reminder", ide_diagnostics: "IDE diagnostics" };
const COMMAND = /^\s*(<command-(name|message)>|<bash-input>)/;
const NOT_TYPED = /^\s*(<command-|<local-command-|Caveat: |<bash-|<user-memory-input>|\[Request interrupted)/;
const BARE_CODEX = new Set(["message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output",
  "local_shell_call", "web_search_call", "reasoning"]);
const CODEX_CALLS = new Set(["function_call", "custom_tool_call", "local_shell_call", "web_search_call"]);
const AGENTS = { claude: "Claude", codex: "Codex" };

export function anchorOf(line) {
  return `g${line.gen}-${line.offset}`;
}

export class Transcript {
  // ctx: {provider, findSubagent, subagentByAgentId, inlineSession, highlight}
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.tail = this.freshState();
  }

  freshState() {
    return { turn: null, model: null, where: null, usage: new Map() };
  }

  // Lines that come after everything shown.
  append(lines, before = null) {
    const frag = document.createDocumentFragment();
    // A turn still open at the end (this.tail.turn) keeps growing in place.
    for (const line of lines) this.feed(line, this.tail, frag);
    this.root.insertBefore(frag, before);
  }

  // Lines that come before everything shown (an earlier page).
  prepend(lines, after) {
    const frag = document.createDocumentFragment();
    const state = this.freshState();
    for (const line of lines) this.feed(line, state, frag);
    const lastNew = state.turn;
    const firstOld = after.nextElementSibling;
    after.after(frag);
    // The page boundary can fall inside a turn: join the halves.
    if (lastNew && firstOld?.classList.contains("continued") && lastNew.dataset.role === "assistant" && firstOld.dataset.role === "assistant") {
      firstOld.querySelector(".turn-head")?.remove();
      lastNew.append(...firstOld.childNodes);
      firstOld.remove();
    }
    // Results whose call was not loaded yet go under it now.
    for (const orphan of this.root.querySelectorAll(".tool.orphan")) {
      const call = this.root.querySelector(`.tool:not(.orphan)[data-tool-use-id="${CSS.escape(orphan.dataset.toolUseId)}"]`);
      if (call && !call.querySelector(".tool-result")) {
        call.append(...orphan.querySelectorAll(":scope > .tool-result"));
        orphan.remove();
      }
    }
  }

  // --- placing one line ------------------------------------------------------

  feed(line, state, frag) {
    if (this.ctx.hidden?.has(line.offset)) return; // on a branch not shown
    const marker = this.ctx.markerBefore?.(line);
    if (marker) {
      frag.append(marker);
      state.turn = null;
    }
    this.place(line, state, frag);
  }

  place(line, state, frag) {
    const obj = line.obj;
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) return this.raw(line, state, frag);
    if (obj.message && typeof obj.message === "object") return this.claude(line, obj, state, frag);
    if (obj.payload && typeof obj.payload === "object") return this.codex(line, obj.type, obj.payload, obj.timestamp, state, frag);
    if (BARE_CODEX.has(obj.type)) return this.codex(line, "response_item", obj, null, state, frag);
    if (obj.type === "summary") return this.divider(line, frag, "summary", `Summary: ${obj.summary ?? ""}`);
    if (obj.type === "system" && obj.subtype === "compact_boundary") {
      const m = obj.compactMetadata || {};
      return this.divider(line, frag, "compaction", `Conversation compacted (${m.trigger || "manual"})${m.preTokens ? ` · ${Number(m.preTokens).toLocaleString()} tokens before` : ""}`);
    }
    const said = describeBookkeeping(obj);
    if (said !== null) return this.bookkeeping(line, obj, said, state, frag);
    return this.unknown(line, obj, state, frag);
  }

  claude(line, obj, state, frag) {
    const msg = obj.message;
    this.noteWhere(obj.cwd, obj.gitBranch, state);
    const blocks = typeof msg.content === "string" ? [{ type: "text", text: msg.content }] : Array.isArray(msg.content) ? msg.content : [];
    if (obj.isCompactSummary) {
      const el = this.divider(line, frag, "compaction", "What the conversation was compacted into");
      el.append(collapsible("Summary written at compaction", () => markdown(textOf(blocks))));
      return;
    }
    if (msg.role === "assistant") {
      const turn = this.turn("assistant", line, state, frag);
      if (msg.model && msg.model !== "<synthetic>") this.noteModel(msg.model, turn, state);
      const el = this.msg(line, turn);
      for (const block of blocks) el.append(this.block(block, line));
      if (msg.usage && typeof msg.usage === "object") this.tokens(turn, msg.id || line.uuid, msg.usage, state);
      return;
    }
    const results = blocks.filter((b) => b && b.type === "tool_result");
    const rest = blocks.filter((b) => b && b.type !== "tool_result");
    const text = textOf(rest);
    if (obj.isMeta && !results.length) return this.bookkeeping(line, obj, `notice: ${text.replace(/\s+/g, " ").slice(0, 140)}`, state, frag, text);
    for (const [i, block] of results.entries()) {
      this.result(block.tool_use_id, {
        text: resultText(block.content), images: imagesOf(block.content), isError: Boolean(block.is_error),
        anchor: i === 0 ? anchorOf(line) : null, lineno: line.lineno, agentId: obj.toolUseResult?.agentId,
      }, line, state, frag);
    }
    if (results.length && !rest.length) return;
    // A prompt or a command the user typed opens a turn; what Claude Code
    // writes back (command output, interruptions) joins the turn it is in.
    const kind = obj.isVisibleInTranscriptOnly ? "output" : !NOT_TYPED.test(text) ? "prompt" : COMMAND.test(text) ? "command" : "output";
    const turn = kind === "output" && state.turn ? state.turn : this.turn("user", line, state, frag, true);
    const el = this.msg(line, turn, kind === "output" ? "aside" : null, !results.length);
    for (const block of rest) el.append(kind === "prompt" ? this.prompt(block, line) : this.aside(block));
  }

  codex(line, kind, p, ts, state, frag) {
    const t = p.type;
    if (kind === "turn_context") this.noteWhere(p.cwd, null, state);
    if (kind === "turn_context" && p.model) this.noteModel(p.model, null, state);
    if (kind === "session_meta") this.noteWhere(p.cwd, p.git?.branch, state);
    if (kind === "compacted") return this.divider(line, frag, "compaction", "Conversation compacted");
    if (kind === "event_msg" && t === "error") {
      const turn = state.turn || this.turn("assistant", line, state, frag);
      return this.msg(line, turn).append(h("div", { class: "notice error" }, `Error: ${p.message ?? ""}`));
    }
    if (kind === "event_msg" && t === "token_count" && p.info?.last_token_usage && state.turn) {
      const u = p.info.last_token_usage;
      // Codex repeats a token_count event unchanged; its running total names it.
      this.tokens(state.turn, `codex-${p.info.total_token_usage?.total_tokens ?? line.offset}`, { input_tokens: u.input_tokens, output_tokens: u.output_tokens, cache_read_input_tokens: u.cached_input_tokens }, state);
    }
    if (kind === "response_item" && t === "message") {
      const text = (Array.isArray(p.content) ? p.content : []).map((c) => (c && typeof c.text === "string" ? c.text : "")).join("\n\n");
      if (p.role === "developer" || INJECTED.test(text)) {
        return this.bookkeeping(line, p, `context Codex adds (${p.role || "message"}): ${text.replace(/\s+/g, " ").slice(0, 120)}`, state, frag, text);
      }
      const turn = this.turn(p.role === "user" ? "user" : "assistant", line, state, frag, p.role === "user");
      return this.msg(line, turn).append(markdown(text));
    }
    if (kind === "response_item" && CODEX_CALLS.has(t)) {
      let input = p.arguments ?? p.input ?? p.action;
      if (typeof input === "string") {
        try { input = JSON.parse(input); } catch { /* a patch or a plain string */ }
      }
      const turn = this.turn("assistant", line, state, frag);
      return this.msg(line, turn).append(this.tool(t === "function_call" || t === "custom_tool_call" ? p.name || t : t, p.call_id, input));
    }
    if (kind === "response_item" && (t === "function_call_output" || t === "custom_tool_call_output")) {
      let out = p.output;
      if (typeof out === "string" && out.startsWith("{")) {
        try {
          const inner = JSON.parse(out);
          if (inner && typeof inner.output === "string") out = inner.output;
        } catch { /* plain text */ }
      }
      return this.result(p.call_id, { text: typeof out === "string" ? out : JSON.stringify(out, null, 2), anchor: anchorOf(line), lineno: line.lineno }, line, state, frag);
    }
    if (kind === "response_item" && t === "reasoning") {
      const text = (p.summary || []).map((s) => (s && s.text) || "").join("\n\n");
      const turn = this.turn("assistant", line, state, frag);
      return this.msg(line, turn).append(text ? collapsible("Thinking", () => markdown(text), "thinking") : h("p", { class: "muted small" }, "(encrypted reasoning)"));
    }
    const said = describeBookkeeping(line.obj);
    if (said !== null) return this.bookkeeping(line, line.obj, said, state, frag);
    return this.unknown(line, line.obj, state, frag);
  }

  // --- building blocks -------------------------------------------------------

  // The turn `line` belongs to: the open one if it is `role`'s, else a new one
  // (always a new one when `fresh`: each prompt is its own turn).
  turn(role, line, state, frag, fresh = false) {
    if (state.turn && state.turn.dataset.role === role && !fresh) return state.turn;
    const el = h("section", { class: `turn turn-${role}${state.turn === null ? " continued" : ""}`, "data-role": role, tabindex: "-1" },
      h("header", { class: "turn-head" },
        h("span", { class: `role role-${role}` }, role === "user" ? "You" : AGENTS[this.ctx.provider] || "Agent"),
        line.sidechain ? h("span", { class: "badge" }, "sidechain") : null,
        h("time", { datetime: line.ts || null }, fmtTime(line.ts))));
    if (line.sidechain) el.classList.add("sidechain");
    frag.append(el);
    state.turn = el;
    if (state.pendingWhere) {
      el.append(state.pendingWhere);
      state.pendingWhere = null;
    }
    return el;
  }

  msg(line, turn, cls = null, anchored = true) {
    const el = h("div", { class: `ln${cls ? " " + cls : ""}`, id: anchored ? anchorOf(line) : null, "data-offset": line.offset, "data-lineno": line.lineno });
    el.append(this.permalink(line));
    if (line.malformed) el.append(h("span", { class: "badge warn" }, "malformed"));
    if (line.partial) el.append(h("span", { class: "badge" }, "being written"));
    turn.append(el);
    return el;
  }

  permalink(line) {
    const a = h("a", { class: "permalink", href: `#${anchorOf(line)}`, title: `Link to line ${line.lineno}` }, `#${line.lineno}`);
    a.addEventListener("click", (e) => {
      e.preventDefault();
      history.replaceState(history.state, "", `${location.pathname}${location.search}#${anchorOf(line)}`);
      this.ctx.highlight?.(anchorOf(line));
    });
    return a;
  }

  block(block, line) {
    if (!block || typeof block !== "object") return h("pre", { class: "raw" }, JSON.stringify(block));
    switch (block.type) {
      case "text":
        return markdown(block.text || "");
      case "thinking":
        return collapsible("Thinking", () => markdown(block.thinking || ""), "thinking");
      case "redacted_thinking":
        return h("p", { class: "muted small" }, "(redacted thinking)");
      case "tool_use":
      case "server_tool_use":
        return this.tool(block.name || "tool", block.id, block.input);
      case "image":
        return image(block);
      case "tool_reference":
        return h("p", { class: "muted small" }, `tool reference: ${block.tool_name || block.name || ""}`);
      case "web_search_tool_result":
        return collapsible(`Web search results (${Array.isArray(block.content) ? block.content.length : 0})`, () =>
          h("ul", {}, (Array.isArray(block.content) ? block.content : []).map((r) => h("li", {}, h("a", { href: String(r?.url || ""), rel: "noopener noreferrer nofollow", target: "_blank" }, r?.title || r?.url || "")))), "result");
      default:
        return rawJson(block, `${block.type || "unknown"} block`);
    }
  }

  // What the user typed, with the context an IDE or hook wraps around it folded away.
  prompt(block, line) {
    if (!block || block.type !== "text" || typeof block.text !== "string") return this.block(block, line);
    const box = h("div", {});
    let text = block.text;
    for (let m = text.match(WRAPPED); m; m = text.match(WRAPPED)) {
      const body = m[2];
      box.append(collapsible(WRAPPED_NAMES[m[1]] || m[1], () => h("pre", { class: "raw" }, body.trim()), "injected"));
      text = text.slice(0, m.index) + text.slice(m.index + m[0].length);
    }
    box.append(markdown(text.trim()));
    return box;
  }

  // Text Claude Code writes in the user's name: commands, their output, bash mode.
  aside(block) {
    if (!block || block.type !== "text") return block?.type === "image" ? image(block) : rawJson(block, `${block?.type} block`);
    const text = block.text || "";
    const cmd = text.match(/<command-name>([^<]*)<\/command-name>/);
    if (cmd) {
      const args = text.match(/<command-args>([\s\S]*?)<\/command-args>/);
      return h("div", { class: "command-line" }, h("code", {}, `${cmd[1].startsWith("/") ? "" : "/"}${cmd[1]}${args && args[1] ? " " + args[1] : ""}`));
    }
    const bash = text.match(/<bash-input>([\s\S]*?)<\/bash-input>/);
    if (bash) return h("pre", { class: "command" }, `! ${bash[1]}`);
    const out = text.match(/<(local-command-stdout|bash-stdout|bash-stderr|local-command-stderr)>([\s\S]*?)<\/\1>/);
    if (out) return out[2].trim() ? folded(stripAnsi(out[2])) : h("span", { class: "muted small" }, "(no output)");
    if (/^\s*\[Request interrupted/.test(text)) return h("div", { class: "notice" }, text.trim());
    return markdown(text);
  }

  tool(name, id, input) {
    return toolElement(name, id, input, this.ctx);
  }

  result(callId, result, line, state, frag) {
    const call = callId ? this.root.querySelector(`.tool[data-tool-use-id="${CSS.escape(callId)}"]`) || findIn(frag, callId) : null;
    if (call) return attachResult(call, result, this.ctx);
    // Its call is on a page not loaded yet (or not in the file): stand alone until it is.
    const turn = state.turn || this.turn("assistant", line, state, frag);
    const orphan = h("div", { class: "tool orphan", "data-tool-use-id": callId || null, "data-tool": "result" },
      h("div", { class: "tool-head" }, h("span", { class: "tool-name" }, "Result"), h("span", { class: "tool-note" }, `of call ${callId || "?"}`)));
    turn.append(orphan);
    return attachResult(orphan, result, this.ctx);
  }

  tokens(turn, key, usage, state) {
    const n = (k) => Number(usage[k] || 0);
    const parts = [["in", n("input_tokens")], ["out", n("output_tokens")], ["cache write", n("cache_creation_input_tokens")], ["cache read", n("cache_read_input_tokens")]];
    let el = state.usage.get(key);
    if (!el) {
      el = h("div", { class: "tokens" });
      state.usage.set(key, el);
    }
    // Streaming writes placeholders first: keep the largest of each field.
    const prev = JSON.parse(el.dataset.values || "[0,0,0,0]");
    const values = parts.map(([, v], i) => Math.max(v, prev[i]));
    el.dataset.values = JSON.stringify(values);
    el.textContent = parts.map(([label], i) => `${values[i].toLocaleString()} ${label}`).join(" · ") + " tokens";
    el.title = "Tokens of this model call: input, output, cache write, cache read";
    turn.append(el); // (moved) to the end of what this call wrote
  }

  noteModel(model, turn, state) {
    if (model === state.model) return;
    state.model = model;
    const el = h("div", { class: "context-change" }, h("span", { class: "model" }, model));
    if (turn) turn.append(el);
  }

  noteWhere(cwd, branch, state) {
    const where = [cwd, branch].filter(Boolean).join(" ");
    if (!cwd || where === state.where) return;
    const first = state.where === null;
    state.where = where;
    if (first) return; // the header already says where the session started
    state.pendingWhere = h("div", { class: "context-change" }, h("span", { class: "cwd" }, cwd), branch ? h("span", { class: "branch" }, `⎇ ${branch}`) : null);
  }

  divider(line, frag, kind, text) {
    const el = h("div", { class: `divider ${kind}`, id: anchorOf(line), "data-offset": line.offset, "data-lineno": line.lineno }, h("span", {}, text));
    frag.append(el);
    return el;
  }

  bookkeeping(line, obj, said, state, frag, full = null) {
    const el = h("div", { class: "ln meta", id: anchorOf(line), "data-offset": line.offset, "data-lineno": line.lineno, "data-type": obj.type || "" },
      this.permalink(line),
      collapsible(said, () => full ? h("pre", { class: "raw" }, full) : h("pre", { class: "raw" }, pretty(obj)), "rawjson"));
    (state.turn || frag).append(el);
    return el;
  }

  unknown(line, obj, state, frag) {
    const el = h("div", { class: "ln unknown", id: anchorOf(line), "data-offset": line.offset, "data-lineno": line.lineno, "data-type": String(obj.type || "") },
      this.permalink(line), rawJson(obj, `${obj.type || "untyped"} line (not understood; shown as written)`));
    (state.turn || frag).append(el);
  }

  raw(line, state, frag) {
    const note = line.truncated ? ` (first ${line.raw.length.toLocaleString()} characters of ${line.length.toLocaleString()} bytes)` : "";
    const el = h("div", { class: "ln raw-line", id: anchorOf(line), "data-offset": line.offset, "data-lineno": line.lineno },
      this.permalink(line),
      h("span", { class: `badge${line.malformed ? " warn" : ""}` }, line.malformed ? "malformed line" : line.partial ? "being written" : "line"),
      note ? h("span", { class: "muted small" }, note) : null,
      h("pre", { class: "raw" }, line.raw || JSON.stringify(line.obj)));
    (state.turn || frag).append(el);
  }
}

function findIn(frag, callId) {
  return frag.querySelector?.(`.tool[data-tool-use-id="${CSS.escape(callId)}"]`) || null;
}

function resultText(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.filter((p) => p && p.type === "text").map((p) => p.text || "").join("\n");
  return "";
}

function imagesOf(content) {
  return Array.isArray(content) ? content.filter((p) => p && p.type === "image").map(image) : [];
}

function image(block) {
  const src = block.source || {};
  if (src.type === "base64" && IMAGE_TYPES.has(src.media_type) && typeof src.data === "string") {
    return h("img", { class: "shot", src: `data:${src.media_type};base64,${src.data}`, alt: "image from the transcript", loading: "lazy" });
  }
  return h("p", { class: "muted small" }, `(image: ${src.media_type || src.type || "unknown"})`);
}

function textOf(blocks) {
  return blocks.map((b) => (b && typeof b.text === "string" ? b.text : "")).join("\n");
}

// <details> whose body is built the first time it opens: tool results can be
// megabytes, and most are never opened.
export function collapsible(label, build, cls = "") {
  const details = h("details", { class: `fold ${cls}` }, h("summary", {}, label));
  details.addEventListener("toggle", () => {
    if (details.open && !details.dataset.built) {
      details.dataset.built = "1";
      details.append(build());
    }
  });
  return details;
}

function rawJson(obj, label) {
  return collapsible(label, () => h("pre", { class: "raw" }, pretty(obj)), "rawjson");
}

function pretty(value) {
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}
