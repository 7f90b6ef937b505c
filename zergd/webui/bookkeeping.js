// The lines Claude Code and Codex write beside the conversation, each said in
// a few words.  They are hidden until "Show bookkeeping" is on; a type not
// listed here is not bookkeeping and is shown (raw) by default.

const CLAUDE = {
  "file-history-snapshot": (o) => `file history snapshot${count(o.snapshot?.trackedFileBackups, "file")}`,
  "queue-operation": (o) => `queue: ${o.operation || ""}${o.content ? " · " + short(o.content) : ""}`,
  progress: (o) => `progress: ${o.data?.type || ""}${o.data?.hookName ? " · " + o.data.hookName : ""}${o.data?.command ? " · " + short(o.data.command) : ""}`,
  attachment: (o) => `attachment: ${o.attachment?.type || ""}${attachmentDetail(o.attachment)}`,
  "last-prompt": (o) => `last prompt: ${short(o.lastPrompt || "")}`,
  "permission-mode": (o) => `permission mode: ${o.permissionMode || o.mode || ""}`,
  "ai-title": (o) => `title: ${o.aiTitle || ""}`,
  "custom-title": (o) => `renamed: ${o.customTitle || ""}`,
  tag: (o) => `tag: ${o.tag || ""}`,
  "agent-name": (o) => `agent name: ${o.agentName || o.name || ""}`,
  "pr-link": (o) => `pull request: ${o.url || o.prUrl || ""}`,
  mode: (o) => `mode: ${o.mode || ""}`,
  "worktree-state": () => "worktree state",
  "teleported-from": (o) => `teleported from ${o.sessionId || o.teleportedFrom || "another session"}`,
  summary: (o) => `summary: ${o.summary || ""}`,
};
const SYSTEM = {
  turn_duration: (o) => `turn took ${seconds(o.durationMs)}`,
  stop_hook_summary: (o) => `stop hooks: ${o.hookCount ?? (o.hookInfos || []).length} run${o.preventedContinuation ? ", stopped the turn" : ""}${(o.hookErrors || []).length ? `, ${o.hookErrors.length} failed` : ""}`,
  api_error: (o) => `API error${o.error?.status ? " " + o.error.status : ""}${o.retryAttempt ? ` · retry ${o.retryAttempt}/${o.maxRetries ?? "?"}` : ""}${o.retryInMs ? ` in ${seconds(o.retryInMs)}` : ""}`,
  microcompact_boundary: (o) => `micro-compaction${o.microcompactMetadata?.tokensSaved ? ` · ${Number(o.microcompactMetadata.tokensSaved).toLocaleString()} tokens saved` : ""}`,
  away_summary: (o) => `while you were away: ${short(o.content || "")}`,
  local_command: (o) => `local command: ${short(o.content || "")}`,
  informational: (o) => short(o.content || "notice"),
};
const CODEX = {
  session_meta: (p) => `session started${p.cli_version ? " · Codex " + p.cli_version : ""}${p.cwd ? " · " + p.cwd : ""}${p.forked_from_id ? " · forked from " + p.forked_from_id : ""}`,
  // What the thread was shown of its world (AGENTS.md and such): kept, not drawn as conversation.
  world_state: () => "world state (instructions the thread saw)",
  inter_agent_communication_metadata: () => "message between agents (metadata)",
  turn_context: (p) => `turn context${p.model ? " · " + p.model : ""}${p.approval_policy ? " · approval " + p.approval_policy : ""}${p.sandbox_policy?.mode ? " · sandbox " + p.sandbox_policy.mode : ""}`,
  ghost_snapshot: () => "ghost snapshot (undo point)",
  state: () => "state marker",
};
const EVENTS = {
  token_count: (p) => {
    const u = p.info?.last_token_usage;
    return u ? `tokens: ${num(u.input_tokens)} in · ${num(u.output_tokens)} out · ${num(u.cached_input_tokens)} cached` : "token count";
  },
  agent_message: (p) => `agent message: ${short(p.message || "")}`,
  user_message: (p) => `user message: ${short(p.message || "")}`,
  agent_reasoning: (p) => `reasoning: ${short(p.text || "")}`,
  task_started: () => "task started",
  task_complete: () => "task complete",
  exec_command_end: (p) => `command finished${p.exit_code !== undefined ? " · exit " + p.exit_code : ""}`,
  context_compacted: () => "context compacted",
  thread_name_updated: (p) => `renamed: ${p.thread_name || p.name || ""}`,
};

// A one-line description of a bookkeeping line, or null if it is not one.
export function describeBookkeeping(obj) {
  if (!obj || typeof obj !== "object") return null;
  const t = obj.type;
  if (t === "system") {
    if (obj.subtype === "compact_boundary") return null;
    const fn = SYSTEM[obj.subtype];
    if (fn) return `system · ${fn(obj)}`;
    return `system${obj.subtype ? " · " + obj.subtype : ""}${typeof obj.content === "string" ? ": " + short(obj.content) : ""}`;
  }
  if (CLAUDE[t] && t !== "summary") return CLAUDE[t](obj);
  const p = obj.payload;
  if (p && typeof p === "object") {
    if (t === "session_meta" || t === "turn_context" || t === "world_state" || t === "inter_agent_communication_metadata") return CODEX[t](p);
    if (t === "response_item" && CODEX[p.type]) return CODEX[p.type](p);
    if (t === "event_msg" && p.type !== "error") return (EVENTS[p.type] || (() => `event: ${p.type || "?"}`))(p);
  }
  if ("record_type" in obj) return CODEX.state(obj);
  if (t === undefined && "instructions" in obj && "id" in obj) return `session started${obj.git?.branch ? " · ⎇ " + obj.git.branch : ""}`;
  if (t === "ghost_snapshot") return CODEX.ghost_snapshot(obj);
  return null;
}

function attachmentDetail(a) {
  if (!a) return "";
  if (a.type === "hook_success" || a.type === "hook_additional_context") return ` · ${a.hookName || a.hookEvent || ""}`;
  if (a.type === "queued_command") return ` · ${short(typeof a.prompt === "string" ? a.prompt : "")}`;
  if (a.type === "file" || a.type === "compact_file_reference") return ` · ${a.filename || a.path || ""}`;
  return "";
}

function count(obj, word) {
  const n = obj && typeof obj === "object" ? Object.keys(obj).length : 0;
  return n ? ` · ${n} ${word}${n === 1 ? "" : "s"}` : "";
}

function short(text) {
  const s = String(text).replace(/\u001b\[[0-9;]*[A-Za-z]/g, "").replace(/\s+/g, " ").trim();
  return s.length > 140 ? s.slice(0, 139) + "…" : s;
}

function seconds(ms) {
  const s = Number(ms) / 1000;
  return isFinite(s) ? (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`) : "?";
}

function num(n) {
  return Number(n || 0).toLocaleString();
}
