// One tool call, rendered by what it does: the command and its output for a
// shell, a diff for an edit, the file for Write and Read, a checklist for
// TodoWrite, the subagent for Task.  The call's result is put inside the same
// element (data-tool-use-id) when it arrives, however many lines later.

import { h, plural } from "./dom.js";
import { highlight, langOf } from "./highlight.js";
import { markdown } from "./markdown.js";
import { collapsible } from "./parts.js";

const FOLD_LINES = 12; // longer outputs show this many lines and a button for the rest
const SHELLS = new Set(["Bash", "shell", "exec_command", "local_shell_call", "container.exec", "BashOutput"]);
const SUBAGENT_TOOLS = new Set(["Task", "Agent"]);

export function toolElement(name, id, input, ctx) {
  const el = h("div", { class: "tool", "data-tool-use-id": id || null, "data-tool": name });
  const renderer = RENDERERS[name] || (SHELLS.has(name) ? shell : null) || (name === "apply_patch" ? applyPatch : keyValues);
  const { head, body } = renderer(input, name, ctx, el);
  el.append(h("div", { class: "tool-head" }, h("span", { class: "tool-name" }, name), head || null));
  if (body) el.append(body);
  if (SUBAGENT_TOOLS.has(name) && input && typeof input === "object") {
    if (typeof input.description === "string") el.dataset.description = input.description;
    const child = ctx.findSubagent?.(input);
    if (child) el.append(subagentLink(child, ctx, input.description));
  }
  return el;
}

// The result of a call: output (folded when long), images, error marked.
// What the harness tells the agent inside a result, not what the tool
// returned: a reminder after a Read, the todo list's boilerplate.  Kept one
// click away.
const REMINDER = /\s*<system-reminder>([\s\S]*?)<\/system-reminder>\s*/g;
const TODO_NOTE = /^Todos have been modified successfully\.[\s\S]*$/;
const TOOL_ERROR = /^\s*<tool_use_error>([\s\S]*)<\/tool_use_error>\s*$/;

function forTheAgent(text) {
  const notes = [];
  let shown = String(text ?? "").replace(REMINDER, (_m, note) => {
    notes.push(note.trim());
    return "\n";
  }).trim();
  if (TODO_NOTE.test(shown)) {
    notes.push(shown);
    shown = "";
  }
  return { shown, notes };
}

export function attachResult(el, { text, images = [], isError = false, anchor = null, lineno = null, agentId = null, keptApart = null }, ctx) {
  const name = el.dataset.tool || "";
  const failure = typeof text === "string" && text.match(TOOL_ERROR);
  if (failure) {  // the harness refused the call: its message, marked as an error
    text = failure[1].trim();
    isError = true;
  }
  const { shown: said, notes } = forTheAgent(text);
  text = said;
  const result = h("div", { class: `tool-result${isError ? " error" : ""}`, id: anchor, "data-lineno": lineno ?? null });
  if (isError) result.append(h("div", { class: "result-label" }, "Error"));
  const lang = name === "Read" ? langOf(el.dataset.path) : null;
  const shown = name === "Read" ? stripLineNumbers(text) : text;
  // A subagent answers in Markdown; an edit's snippet of the file is folded; everything else is output.
  const snippet = EDIT_TOOLS.has(name) ? editSnippet(shown) : null;
  const body = !shown ? null : snippet ? snippet
    : SUBAGENT_TOOLS.has(name) ? foldedMarkdown(shown) : folded(stripAnsi(shown), lang);
  if (body) result.append(body);
  if (keptApart && ctx.toolOutput) showWholeOutput(result, body, keptApart, lang, ctx);
  for (const img of images) result.append(img);
  if (!shown && !images.length && !notes.length) result.append(h("div", { class: "muted" }, "(no output)"));
  if (notes.length) result.append(collapsible("note to the agent", () => h("pre", { class: "raw" }, notes.join("\n\n")), "agent-note"));
  el.append(result);
  if (agentId && !el.querySelector(".subagent-link")) {
    const child = ctx.subagentByAgentId?.(agentId);
    if (child) el.append(subagentLink(child, ctx, el.dataset.description));
  }
  return result;
}

// Claude Code answers an edit with the file's lines around it ("Here's the
// result of running `cat -n` on a snippet of the edited file:"): the diff
// above says what changed, so they are one click away.
const EDIT_TOOLS = new Set(["Edit", "MultiEdit", "Write", "NotebookEdit"]);
const CAT_N = /^([\s\S]*?result of running `cat -n`[^\n]*\n)([\s\S]+)$/;

function editSnippet(text) {
  const m = text && text.match(CAT_N);
  if (!m) return null;
  const lines = stripLineNumbers(m[2].replace(/\n$/, ""));
  return h("div", { class: "edit-result" }, h("div", { class: "muted small" }, m[1].trim()),
    collapsible(plural(lines.split("\n").length, "line"), () => h("pre", { class: "code" }, lines)));
}

// The transcript holds a preview; the archive holds the whole output: it
// takes the preview's place once loaded (the preview stays if it was not kept).
function showWholeOutput(result, preview, toolUseId, lang, ctx) {
  const note = h("div", { class: "muted small kept-apart" }, "Loading the whole output…");
  result.append(note);
  ctx.toolOutput(toolUseId).then((whole) => {
    preview?.replaceWith(folded(stripAnsi(whole), lang));
    note.textContent = `The whole output (${plural(whole.length, "character")}), kept apart by the agent and archived.`;
  }, () => {
    note.textContent = "Only this preview is in the transcript; the whole output was not archived.";
  });
}

// Text in a <pre>, showing the first FOLD_LINES lines and a button for the rest.
export function folded(text, lang = null, cls = "output") {
  const lines = text.split("\n");
  if (lines.length && lines.at(-1) === "") lines.pop();
  const long = lines.length > FOLD_LINES + 3;
  const pre = h("pre", { class: cls }, highlight(long ? lines.slice(0, FOLD_LINES).join("\n") : lines.join("\n"), lang));
  if (!long) return pre;
  const more = h("button", { type: "button", class: "expand" }, `Show all ${plural(lines.length, "line")}`);
  more.addEventListener("click", () => {
    pre.replaceChildren(highlight(lines.join("\n"), lang));
    more.remove();
  });
  return h("div", { class: "fold-output" }, pre, more);
}

// Markdown cut to a few screens' height, with a button for the rest.
function foldedMarkdown(text) {
  const md = markdown(text);
  if (text.split("\n").length <= FOLD_LINES * 2) return md;
  md.classList.add("clamped");
  const more = h("button", { type: "button", class: "expand" }, `Show all ${plural(text.split("\n").length, "line")}`);
  more.addEventListener("click", () => {
    md.classList.remove("clamped");
    more.remove();
  });
  return h("div", { class: "fold-output" }, md, more);
}

const RENDERERS = {
  Edit: edit,
  MultiEdit: edit,
  Write: write,
  Read: read,
  NotebookEdit: write,
  TodoWrite: todos,
  Task: task,
  Agent: task,
  WebFetch: (input) => ({ head: link(input?.url), body: input?.prompt ? h("div", { class: "tool-note" }, input.prompt) : null }),
  WebSearch: (input) => ({ head: h("span", { class: "tool-arg" }, `“${input?.query ?? ""}”`) }),
  web_search: (input) => ({ head: h("span", { class: "tool-arg" }, `“${input?.query ?? ""}”`) }),
  web_search_call: (input) => ({ head: h("span", { class: "tool-arg" }, `“${input?.query ?? input?.action?.query ?? ""}”`) }),
  AskUserQuestion: questions,
  // Claude Code's task list (2.1.16 on): TaskCreate {subject, description, activeForm}, TaskUpdate {taskId, status, ...}.
  TaskCreate: (input) => ({ head: h("span", { class: "tool-arg" }, String(input?.subject ?? "")),
    body: input?.description ? h("div", { class: "tool-note" }, String(input.description)) : null }),
  TaskUpdate: (input) => ({ head: h("span", { class: "tool-arg" }, `task ${input?.taskId ?? "?"}`,
    input?.status ? h("span", { class: "badge" }, String(input.status)) : null, input?.subject ? ` ${input.subject}` : null) }),
  // A background shell or agent's output, or stopping it: {task_id}.
  TaskOutput: (input) => ({ head: h("code", { class: "tool-arg" }, String(input?.task_id ?? "")) }),
  TaskStop: (input) => ({ head: h("code", { class: "tool-arg" }, String(input?.task_id ?? "")) }),
  Skill: (input) => ({ head: h("span", { class: "tool-arg" }, h("span", { class: "badge" }, String(input?.skill ?? input?.command ?? "skill")),
    input?.args ? ` ${typeof input.args === "string" ? input.args : JSON.stringify(input.args)}` : null) }),
  Grep: (input) => ({ head: h("code", { class: "tool-arg" }, `${input?.pattern ?? ""}${input?.path ? "  in " + input.path : ""}`) }),
  Glob: (input) => ({ head: h("code", { class: "tool-arg" }, `${input?.pattern ?? ""}${input?.path ? "  in " + input.path : ""}`) }),
};

function shell(input) {
  let cmd = input && typeof input === "object" ? input.command ?? input.cmd : input;
  if (Array.isArray(cmd)) cmd = (cmd[0] === "bash" && /^-l?c$/.test(cmd[1]) ? cmd.slice(2) : cmd).join(" ");
  cmd = String(cmd ?? "");
  const first = cmd.split("\n")[0];
  const multi = cmd.includes("\n");
  return {
    head: h("span", { class: "tool-arg" }, input?.description ? h("span", { class: "tool-note" }, input.description) : null),
    body: h("pre", { class: "command" }, highlight(multi ? cmd : `$ ${first}`, "sh")),
  };
}

function edit(input, name, ctx, el) {
  const path = input?.file_path || input?.notebook_path || "";
  el.dataset.path = path;
  const edits = name === "MultiEdit" && Array.isArray(input?.edits) ? input.edits : [input || {}];
  const body = h("div", { class: "diffs" }, edits.map((e) => diff(String(e?.old_string ?? ""), String(e?.new_string ?? ""))));
  return { head: h("code", { class: "tool-arg path" }, path), body };
}

function write(input, name, ctx, el) {
  const path = input?.file_path || input?.notebook_path || "";
  el.dataset.path = path;
  const content = String(input?.content ?? input?.new_source ?? "");
  return { head: h("code", { class: "tool-arg path" }, path), body: folded(content, langOf(path), "code") };
}

function read(input, name, ctx, el) {
  const path = input?.file_path || input?.path || "";
  el.dataset.path = path;
  const range = input?.offset || input?.limit ? ` (lines ${input.offset || 1}${input.limit ? "–" + ((input.offset || 1) + input.limit - 1) : "+"})` : "";
  return { head: h("code", { class: "tool-arg path" }, path + range) };
}

function todos(input) {
  const items = Array.isArray(input?.todos) ? input.todos : [];
  const mark = { completed: "☑", in_progress: "◐", pending: "☐" };
  return {
    head: h("span", { class: "tool-note" }, `${items.filter((t) => t?.status === "completed").length} of ${items.length} done`),
    body: h("ul", { class: "todos" }, items.map((t) =>
      h("li", { class: `todo ${t?.status || ""}`, "data-status": t?.status || "" }, h("span", { class: "check", "aria-hidden": "true" }, mark[t?.status] || "☐"), " ", String(t?.content ?? t?.activeForm ?? "")))),
  };
}

// AskUserQuestion: {questions: [{question, header, options: [{label, description}], multiSelect}]};
// the answers come back as its result.
function questions(input) {
  const asked = Array.isArray(input?.questions) ? input.questions.filter((q) => q && typeof q === "object") : [];
  return {
    head: h("span", { class: "tool-arg" }, plural(asked.length, "question")),
    body: h("div", { class: "questions" }, asked.map((q) => h("div", { class: "question" },
      q.header ? h("span", { class: "badge" }, String(q.header)) : null,
      h("p", {}, String(q.question ?? ""), q.multiSelect ? h("span", { class: "muted" }, " (any of)") : null),
      h("ul", { class: "options" }, (Array.isArray(q.options) ? q.options : []).map((o) =>
        h("li", {}, h("strong", {}, String(o?.label ?? "")), o?.description ? ` — ${o.description}` : null)))))),
  };
}

function task(input) {
  const body = h("details", { class: "fold prompt" }, h("summary", {}, "Prompt"));
  body.addEventListener("toggle", () => {
    if (body.open && !body.dataset.built) {
      body.dataset.built = "1";
      body.append(markdown(String(input?.prompt ?? "")));
    }
  }, { once: false });
  return {
    head: h("span", { class: "tool-arg" }, input?.description || "", input?.subagent_type ? h("span", { class: "badge" }, input.subagent_type) : null),
    body: input?.prompt ? body : null,
  };
}

function applyPatch(input) {
  const text = typeof input === "string" ? input : String(input?.input ?? input?.patch ?? JSON.stringify(input));
  const files = [...text.matchAll(/^\*\*\* (?:Update|Add|Delete) File: (.+)$/gm)].map((m) => m[1]);
  return { head: h("code", { class: "tool-arg path" }, files.join(", ")), body: h("pre", { class: "diff" }, text.split("\n").map(diffLine)) };
}

// Any other tool: its input as a compact key/value list.
function keyValues(input) {
  if (input === null || input === undefined || input === "") return { head: null };
  if (typeof input !== "object") return { head: null, body: h("pre", { class: "code" }, String(input)) };
  const entries = Object.entries(input);
  if (!entries.length) return { head: null };
  return {
    head: null,
    body: h("dl", { class: "kv" }, entries.map(([k, v]) => [
      h("dt", {}, k),
      h("dd", {}, typeof v === "string" ? (v.includes("\n") ? folded(v, null, "code") : v) : h("code", {}, JSON.stringify(v))),
    ])),
  };
}

// A line diff of one edit (jsdiff, vendored: globalThis.Diff): changed
// lines with the words that changed marked, two unchanged lines of context
// around each change, longer unchanged runs folded to a count.
const CONTEXT = 2;

export function diff(before, after) {
  const Diff = globalThis.Diff;
  if (!Diff) return h("pre", { class: "diff" }, [...before.split("\n").map((l) => "-" + l), ...after.split("\n").map((l) => "+" + l)].map(diffLine));
  const ended = (t) => (t.endsWith("\n") ? t : t + "\n");
  const parts = Diff.diffLines(ended(before), ended(after));
  const linesOf = (part) => part.value.replace(/\n$/, "").split("\n");
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (part.removed && parts[i + 1]?.added) {
      out.push(...changedLines(linesOf(part), linesOf(parts[i + 1]), Diff));
      i++;
    } else if (part.removed || part.added) {
      out.push(...linesOf(part).map((l) => diffLine((part.added ? "+" : "-") + l)));
    } else {
      const lines = linesOf(part);
      const head = i === 0 ? 0 : CONTEXT;
      const tail = i === parts.length - 1 ? 0 : CONTEXT;
      if (lines.length > head + tail + 1) {
        out.push(...lines.slice(0, head).map((l) => diffLine(" " + l)),
          h("span", { class: "dl skip" }, `… ${plural(lines.length - head - tail, "unchanged line")}\n`),
          ...lines.slice(lines.length - tail).map((l) => diffLine(" " + l)));
      } else {
        out.push(...lines.map((l) => diffLine(" " + l)));
      }
    }
  }
  return h("pre", { class: "diff" }, out);
}

// Removed then added lines; where a block replaces one of the same length,
// line by line, the words that changed are marked.
function changedLines(removed, added, Diff) {
  if (!removed.length || removed.length !== added.length) {
    return [...removed.map((l) => diffLine("-" + l)), ...added.map((l) => diffLine("+" + l))];
  }
  const words = removed.map((l, i) => Diff.diffWordsWithSpace(l, added[i]));
  const side = (sign, keep) => words.map((w) => h("span", { class: `dl ${sign === "-" ? "del" : "add"}` }, sign,
    w.filter((p) => !p[keep]).map((p) => (p.added || p.removed ? h("mark", { class: "w" }, p.value) : p.value)), "\n"));
  return [...side("-", "added"), ...side("+", "removed")];
}

function diffLine(line) {
  const cls = line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "";
  return h("span", { class: cls ? `dl ${cls}` : "dl" }, line + "\n");
}

function link(url) {
  if (!url) return null;
  return h("a", { class: "tool-arg", href: String(url), rel: "noopener noreferrer nofollow", target: "_blank" }, String(url));
}

function subagentLink(child, ctx, label) {
  const href = `/s/${encodeURIComponent(child.id)}`;
  const inline = h("details", { class: "fold subagent-inline" }, h("summary", {}, `Show the subagent's ${plural(child.lines, "line")} here`));
  inline.addEventListener("toggle", () => {
    if (inline.open && !inline.dataset.built) {
      inline.dataset.built = "1";
      ctx.inlineSession?.(child.id, inline);
    }
  });
  return h("div", { class: "subagent" },
    h("a", { class: "subagent-link", href, "data-nav": "" }, `Open subagent transcript: ${child.agent_description || label || child.title || child.id}`),
    inline);
}

function stripLineNumbers(text) {
  // Read results number every line as "     1→"; the numbers are noise here.
  if (!/^\s*\d+→/.test(text)) return text;
  return text.split("\n").map((l) => l.replace(/^\s*\d+→/, "")).join("\n");
}

export function stripAnsi(text) {
  return String(text).replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
}
