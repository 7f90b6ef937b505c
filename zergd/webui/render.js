// Transcript lines -> turns.  A turn is what one side said: a prompt the user
// typed, or everything the agent did until the next prompt (its text,
// thinking, and each tool call with its result inside).  Every line still has
// its own element and anchor (g<gen>-<offset>), so a permalink or a search hit
// lands on the exact line.  What a line means is its agent's feeder
// (agents/<name>.js, listed in agents/index.js); anything no feeder
// understands is shown as raw JSON, never dropped.

import { h, fmtTime } from "./dom.js";
import { markdown } from "./markdown.js";
import { describeBookkeeping } from "./bookkeeping.js";
import { attachResult, folded, stripAnsi, toolElement } from "./tools.js";
import { speaker } from "./agents.js";
import { FEEDERS } from "./agents/index.js";
import { anchorOf, collapsible, image, pretty, rawJson } from "./parts.js";

const WRAPPED = /<(ide_selection|ide_opened_file|system-reminder|ide_diagnostics)>([\s\S]*?)<\/\1>/;
const WRAPPED_NAMES = { ide_selection: "IDE selection", ide_opened_file: "File open in the IDE", "system-reminder": "System reminder", ide_diagnostics: "IDE diagnostics" };

export { anchorOf };

export class Transcript {
  // ctx: {provider, findSubagent, subagentByAgentId, inlineSession, highlight}
  constructor(root, ctx) {
    this.root = root;
    this.ctx = ctx;
    this.tail = this.freshState();
    // Results shown before their call (a page not loaded yet, or a file that
    // wrote the result first), by call id: the call adopts them when it comes.
    this.orphans = new Map();
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
    const feeder = FEEDERS.find((f) => f.claims(obj));
    if (feeder) return feeder.feed(this, line, obj, state, frag);
    return this.other(line, obj, state, frag);
  }

  // A line its agent keeps for itself (bookkeeping), or one nobody understands.
  other(line, obj, state, frag) {
    const said = describeBookkeeping(obj);
    if (said !== null) return this.bookkeeping(line, obj, said, state, frag);
    return this.unknown(line, obj, state, frag);
  }

  // --- building blocks -------------------------------------------------------

  // The turn `line` belongs to: the open one if it is `role`'s, else a new one
  // (always a new one when `fresh`: each prompt is its own turn).
  turn(role, line, state, frag, fresh = false) {
    if (state.turn && state.turn.dataset.role === role && !fresh) return state.turn;
    const el = h("section", { class: `turn turn-${role}${state.turn === null ? " continued" : ""}`, "data-role": role, tabindex: "-1" },
      h("header", { class: "turn-head" },
        h("span", { class: `role role-${role}` }, role === "user" ? "You" : speaker(this.ctx.provider)),
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
        // "(no content)": Claude Code's placeholder for a reply with only tool calls in it.
        return (block.text || "").trim() === "(no content)" ? document.createDocumentFragment() : markdown(block.text || "");
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
    const el = toolElement(name, id, input, this.ctx);
    const orphan = id ? this.orphans.get(id) : null;
    if (orphan) {  // its result came first: it goes under its call now
      this.orphans.delete(id);
      el.append(...orphan.querySelectorAll(":scope > .tool-result"));
      orphan.remove();
    }
    return el;
  }

  result(callId, result, line, state, frag) {
    const call = callId ? this.root.querySelector(`.tool[data-tool-use-id="${CSS.escape(callId)}"]`) || findIn(frag, callId) : null;
    if (call) return attachResult(call, result, this.ctx);
    // Its call is on a page not loaded yet (or not in the file): stand alone until it is.
    const turn = state.turn || this.turn("assistant", line, state, frag);
    const orphan = h("div", { class: "tool orphan", "data-tool-use-id": callId || null, "data-tool": "result" },
      h("div", { class: "tool-head" }, h("span", { class: "tool-name" }, "Result"), h("span", { class: "tool-note" }, `of call ${callId || "?"}`)));
    turn.append(orphan);
    if (callId) this.orphans.set(callId, orphan);
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

