// Claude Code's lines: {type, message: {role, content: [blocks]}, ...}, plus
// summaries and compaction boundaries.  See zergd/transcript/claude.py.

import { h } from "../dom.js";
import { markdown } from "../markdown.js";
import { VOCABULARY, startsWithAny } from "../agents.js";
import { anchorOf, collapsible, imagesOf, resultText, textOf } from "../parts.js";

const COMMAND = /^\s*(<command-(name|message)>|<bash-input>)/;
const NOT_TYPED = startsWithAny(VOCABULARY.claude_not_typed);
const PERSISTED = startsWithAny([VOCABULARY.persisted_output]);

export const claude = {
  name: "claude",
  claims: (obj) => (obj.message && typeof obj.message === "object") || obj.type === "summary" ||
    (obj.type === "system" && obj.subtype === "compact_boundary") || steering(obj) !== null || typedPrompt(obj) ||
    obj.type === "pr-link",
  feed(view, line, obj, state, frag) {
    if (obj.message && typeof obj.message === "object") return feedMessage(view, line, obj, state, frag);
    if (typedPrompt(obj)) {
      // A prompt recovered from history.jsonl: what was typed, and the pastes it kept.
      const el = view.msg(line, view.turn("user", line, state, frag, true));
      el.append(markdown(obj.display));
      const pastes = Object.values(obj.pastedContents && typeof obj.pastedContents === "object" ? obj.pastedContents : {})
        .filter((p) => p && typeof p.content === "string");
      for (const p of pastes) el.append(collapsible(`Pasted text #${p.id ?? ""}`, () => h("pre", {}, p.content)));
      return el;
    }
    const said = steering(obj);
    if (said !== null) {
      // Typed while Claude worked: the user's words, read at its next step.
      const el = view.msg(line, view.turn("user", line, state, frag, true));
      el.append(h("div", { class: "muted small" }, "sent while Claude was working"), markdown(said));
      return el;
    }
    if (obj.type === "summary") return view.divider(line, frag, "summary", `Summary: ${obj.summary ?? ""}`);
    if (obj.type === "pr-link") {
      // The pull request the session opened or worked on: {prNumber, prUrl, prRepository}.
      const el = view.divider(line, frag, "pr-link", "");
      el.replaceChildren(h("a", { class: "pr-card", href: String(obj.prUrl ?? ""), rel: "noopener noreferrer nofollow", target: "_blank" },
        h("strong", {}, `Pull request${obj.prNumber !== undefined ? " #" + obj.prNumber : ""}`),
        obj.prRepository ? h("span", { class: "muted" }, ` · ${obj.prRepository}`) : null));
      return el;
    }
    const m = obj.compactMetadata || {};
    return view.divider(line, frag, "compaction", `Conversation compacted (${m.trigger || "manual"})${m.preTokens ? ` · ${Number(m.preTokens).toLocaleString()} tokens before` : ""}`);
  },
};

function feedMessage(view, line, obj, state, frag) {
  const msg = obj.message;
  view.noteWhere(obj.cwd, obj.gitBranch, state);
  const blocks = typeof msg.content === "string" ? [{ type: "text", text: msg.content }] : Array.isArray(msg.content) ? msg.content : [];
  if (obj.isCompactSummary) {
    const el = view.divider(line, frag, "compaction", "What the conversation was compacted into");
    el.append(collapsible("Summary written at compaction", () => markdown(textOf(blocks))));
    return;
  }
  if (msg.role === "assistant") {
    const turn = view.turn("assistant", line, state, frag);
    if (msg.model && msg.model !== "<synthetic>") view.noteModel(msg.model, turn, state);
    const el = view.msg(line, turn);
    for (const block of blocks) el.append(view.block(block, line));
    if (msg.usage && typeof msg.usage === "object") view.tokens(turn, msg.id || line.uuid, msg.usage, state);
    return;
  }
  const results = blocks.filter((b) => b && b.type === "tool_result");
  const rest = blocks.filter((b) => b && b.type !== "tool_result");
  const text = textOf(rest);
  if (obj.isMeta && !results.length) return view.bookkeeping(line, obj, `notice: ${text.replace(/\s+/g, " ").slice(0, 140)}`, state, frag, text);
  for (const [i, block] of results.entries()) {
    const text = resultText(block.content);
    view.result(block.tool_use_id, {
      text, images: imagesOf(block.content), isError: Boolean(block.is_error),
      anchor: i === 0 ? anchorOf(line) : null, lineno: line.lineno, agentId: obj.toolUseResult?.agentId,
      // Too large for the transcript: the whole output is in the session's tool-results/.
      keptApart: PERSISTED.test(text) ? block.tool_use_id : null,
    }, line, state, frag);
  }
  if (results.length && !rest.length) return;
  // A prompt or a command the user typed opens a turn; what Claude Code
  // writes back (command output, interruptions) joins the turn it is in.
  const kind = obj.isVisibleInTranscriptOnly ? "output" : !NOT_TYPED.test(text) ? "prompt" : COMMAND.test(text) ? "command" : "output";
  const turn = kind === "output" && state.turn ? state.turn : view.turn("user", line, state, frag, true);
  const el = view.msg(line, turn, kind === "output" ? "aside" : null, !results.length);
  for (const block of rest) el.append(kind === "prompt" ? view.prompt(block, line) : view.aside(block));
}

// An entry of the prompt history (history.jsonl): {display, pastedContents, timestamp, project, sessionId}.
function typedPrompt(obj) {
  return !("type" in obj) && typeof obj.display === "string" && "timestamp" in obj;
}

// What the user typed while Claude was working (a queued_command attachment
// that is not a background task's notification), or null.
function steering(obj) {
  const a = obj.type === "attachment" ? obj.attachment : null;
  if (!a || a.type !== "queued_command" || a.commandMode === "task-notification") return null;
  if (typeof a.prompt === "string") return a.prompt;
  return Array.isArray(a.prompt) ? textOf(a.prompt) : null;
}
