// One transcript line -> one DOM element.  Claude Code lines carry
// `message.content` blocks; Codex lines are {type, payload}.  Anything not
// understood is shown as raw JSON, never dropped.

import { h, fmtTime } from "./dom.js";
import { markdown } from "./markdown.js";

// Bookkeeping lines Claude Code and Codex write beside the conversation:
// shown compactly, hidden unless "show bookkeeping" is on.
const META_TYPES = new Set(["queue-operation", "file-history-snapshot", "progress", "attachment", "last-prompt",
  "permission-mode", "ai-title", "custom-title", "tag", "agent-name", "pr-link", "mode", "worktree-state"]);
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const SUBAGENT_TOOLS = new Set(["Task", "Agent"]);
// What Codex writes into the conversation on the user's behalf.
const INJECTED = /^\s*(<environment_context>|<user_instructions>|<permissions instructions>|# AGENTS\.md instructions)/;

export function anchorOf(line) {
  return `g${line.gen}-${line.offset}`;
}

export function renderLine(line, ctx) {
  const row = h("article", { class: "line", id: anchorOf(line), "data-type": line.type || "unknown" });
  const body = line.obj ? renderObject(line, ctx) : renderRaw(line);
  if (!body) return null;
  const { role, content, meta } = body;
  if (meta) row.classList.add("meta");
  if (line.sidechain) row.classList.add("sidechain");
  row.append(header(line, role, ctx), content);
  return row;
}

function header(line, role, ctx) {
  const link = h("a", { class: "permalink", href: `#${anchorOf(line)}`, title: "Link to this line" }, `#${line.lineno}`);
  link.addEventListener("click", (e) => {
    e.preventDefault();
    history.replaceState(history.state, "", `${location.pathname}${location.search}#${anchorOf(line)}`);
    ctx.highlight?.(anchorOf(line));
  });
  return h("div", { class: "line-head" },
    h("span", { class: `role role-${(role || "other").replace(/[^a-z]/gi, "")}` }, role || line.type || "line"),
    line.sidechain ? h("span", { class: "badge" }, "sidechain") : null,
    line.malformed ? h("span", { class: "badge warn" }, "malformed") : null,
    line.partial ? h("span", { class: "badge" }, "being written") : null,
    h("time", { datetime: line.ts || null }, fmtTime(line.ts)),
    link);
}

function renderRaw(line) {
  const note = line.truncated ? ` (first ${line.raw.length.toLocaleString()} characters of ${line.length.toLocaleString()} bytes)` : "";
  return { role: line.malformed ? "malformed line" : "line", content: h("div", {}, note ? h("p", { class: "muted" }, note) : null, h("pre", { class: "raw" }, line.raw || "")) };
}

function renderObject(line, ctx) {
  const obj = line.obj;
  if (obj.payload !== undefined && obj.message === undefined) return renderCodex(line, obj, ctx);
  const type = obj.type;
  if (obj.message && typeof obj.message === "object") return renderMessage(line, obj, ctx);
  if (type === "summary") return { role: "summary", content: h("p", { class: "summary" }, obj.summary || "") };
  if (type === "system") return renderSystem(obj);
  if (META_TYPES.has(type)) return { role: type, meta: true, content: rawJson(obj, summaryOf(obj)) };
  return { role: type || "unknown", content: rawJson(obj, `${type || "unknown"} line`) };
}

function summaryOf(obj) {
  if (obj.type === "attachment" && obj.attachment) return `attachment · ${obj.attachment.type || ""}`;
  if (obj.type === "progress" && obj.data) return `progress · ${obj.data.type || ""}`;
  if (obj.type === "queue-operation") return `queue · ${obj.operation || ""}`;
  if (obj.type === "ai-title") return `title · ${obj.aiTitle || ""}`;
  return obj.type;
}

function renderSystem(obj) {
  if (obj.subtype === "compact_boundary") {
    const m = obj.compactMetadata || {};
    const tokens = m.preTokens ? ` · ${Number(m.preTokens).toLocaleString()} tokens before` : "";
    return { role: "compaction", content: h("div", { class: "compaction" }, `Conversation compacted (${m.trigger || "manual"})${tokens}`) };
  }
  const text = typeof obj.content === "string" ? obj.content : "";
  return { role: `system${obj.subtype ? " · " + obj.subtype : ""}`, meta: !text, content: text ? h("pre", { class: "system" }, stripAnsi(text)) : rawJson(obj, obj.subtype || "system") };
}

function renderMessage(line, obj, ctx) {
  const msg = obj.message;
  const role = msg.role === "assistant" ? (msg.model && msg.model !== "<synthetic>" ? `assistant · ${msg.model}` : "assistant") : msg.role || obj.type;
  if (obj.isCompactSummary) {
    return { role: "compaction summary", content: collapsible("Summary written at compaction", () => markdown(textOf(msg.content))) };
  }
  const content = h("div", { class: "blocks" });
  const blocks = typeof msg.content === "string" ? [{ type: "text", text: msg.content }] : Array.isArray(msg.content) ? msg.content : [];
  for (const block of blocks) content.append(renderBlock(block, obj, ctx));
  return { role: obj.isMeta ? "meta" : role, meta: Boolean(obj.isMeta), content };
}

function renderBlock(block, obj, ctx) {
  if (!block || typeof block !== "object") return h("pre", { class: "raw" }, JSON.stringify(block));
  switch (block.type) {
    case "text":
      return markdown(block.text || "");
    case "thinking":
      return collapsible("Thinking", () => markdown(block.thinking || ""), "thinking");
    case "redacted_thinking":
      return h("p", { class: "muted" }, "(redacted thinking)");
    case "tool_use":
      return renderToolUse(block.name, block.id, block.input, ctx);
    case "tool_result":
      return renderToolResult(block, obj, ctx);
    case "image":
      return renderImage(block);
    default:
      return rawJson(block, `${block.type || "unknown"} block`);
  }
}

function renderToolUse(name, id, input, ctx) {
  if (id) ctx.tools.set(id, name);
  const brief = briefInput(input);
  const details = collapsible(`${name}${brief ? " · " + brief : ""}`, () => h("pre", { class: "code" }, pretty(input)), "tool");
  if (SUBAGENT_TOOLS.has(name) && input && typeof input === "object") {
    const child = ctx.findSubagent?.(input);
    if (child) details.append(h("a", { class: "subagent-link", href: `/s/${encodeURIComponent(child.id)}`, "data-nav": "" }, `Open subagent transcript: ${child.agent_description || child.title || child.id}`));
  }
  return details;
}

function briefInput(input) {
  if (!input || typeof input !== "object") return typeof input === "string" ? input.slice(0, 80) : "";
  const v = input.description || input.command || input.file_path || input.path || input.pattern || input.query || input.url || input.prompt;
  return typeof v === "string" ? v.split("\n")[0].slice(0, 100) : "";
}

function renderToolResult(block, obj, ctx) {
  const name = ctx.tools.get(block.tool_use_id) || "tool";
  const parts = typeof block.content === "string" ? [{ type: "text", text: block.content }] : Array.isArray(block.content) ? block.content : [];
  const first = (parts.find((p) => p && p.type === "text")?.text || "").split("\n")[0].slice(0, 100);
  const label = `${block.is_error ? "Error from" : "Result of"} ${name}${first ? " · " + first : ""}`;
  return collapsible(label, () => h("div", {}, parts.map((p) => p && p.type === "image" ? renderImage(p) : p && p.type === "text" ? h("pre", { class: "result" }, stripAnsi(p.text || "")) : rawJson(p, `${p && p.type} block`))), block.is_error ? "result error" : "result");
}

function renderImage(block) {
  const src = block.source || {};
  if (src.type === "base64" && IMAGE_TYPES.has(src.media_type) && typeof src.data === "string") {
    return h("img", { class: "shot", src: `data:${src.media_type};base64,${src.data}`, alt: "image from the transcript", loading: "lazy" });
  }
  return h("p", { class: "muted" }, `(image: ${src.media_type || src.type || "unknown"})`);
}

// --- Codex -----------------------------------------------------------------

function renderCodex(line, obj, ctx) {
  const p = obj.payload || {};
  const kind = p.type;
  if (obj.type === "response_item") {
    if (kind === "message") {
      const text = (p.content || []).map((c) => (c && typeof c.text === "string" ? c.text : "")).join("\n\n");
      if (p.role === "developer" || INJECTED.test(text)) {
        return { role: p.role || "message", content: collapsible("Context Codex adds to the conversation", () => markdown(text)) };
      }
      return { role: p.role || "message", content: markdown(text) };
    }
    if (kind === "function_call" || kind === "custom_tool_call" || kind === "local_shell_call" || kind === "web_search_call") {
      let input = p.arguments ?? p.input ?? p.action;
      if (typeof input === "string") {
        try { input = JSON.parse(input); } catch { /* keep the string */ }
      }
      return { role: "assistant", content: renderToolUse(p.name || kind, p.call_id, input, ctx) };
    }
    if (kind === "function_call_output" || kind === "custom_tool_call_output") {
      const out = typeof p.output === "string" ? p.output : pretty(p.output);
      return { role: "tool", content: renderToolResult({ tool_use_id: p.call_id, content: out }, obj, ctx) };
    }
    if (kind === "reasoning") {
      const text = (p.summary || []).map((s) => (s && s.text) || "").join("\n\n");
      return { role: "reasoning", content: text ? collapsible("Thinking", () => markdown(text), "thinking") : h("p", { class: "muted" }, "(encrypted reasoning)") };
    }
  }
  if (obj.type === "compacted") return { role: "compaction", content: h("div", { class: "compaction" }, "Conversation compacted") };
  return { role: kind ? `${obj.type} · ${kind}` : obj.type, meta: true, content: rawJson(obj, kind || obj.type) };
}

// --- helpers ---------------------------------------------------------------

function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((b) => (b && typeof b.text === "string" ? b.text : "")).join("\n");
  return "";
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

function stripAnsi(text) {
  return String(text).replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}
