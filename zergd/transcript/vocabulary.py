"""Words the agents write that mean something to every reader of a transcript.

One list each; the parser, the Markdown/HTML export and the Timeline all use
these (the Timeline's page is given them as JSON: ``zergd.transcript.page_facts``)."""

from __future__ import annotations

import re

# A Codex "user" message that starts so is context Codex injected (the
# environment, AGENTS.md, the sandbox's permissions, a shell command it ran
# for the user), not something the person typed: no title, shown folded.
CODEX_CONTEXT = ("<environment_context>", "<user_instructions>", "<user_shell_command>",
                 "<permissions instructions>", "# AGENTS.md instructions")

# A Claude Code "user" line whose text starts so was not typed by the person:
# slash-command wrappers, local command output, the interruption marker.
CLAUDE_NOT_TYPED = ("<command-", "<local-command-", "Caveat: ", "<bash-", "<user-memory-input>",
                    "[Request interrupted")

# A Claude Code tool_result whose output was too large for the transcript
# starts so; the whole output is in <session>/tool-results/<tool use id>.txt.
PERSISTED_OUTPUT = "<persisted-output>"


def is_persisted_output(text: str) -> bool:
    return text.lstrip().startswith(PERSISTED_OUTPUT)


# The item types of a Codex rollout written before the {timestamp, type,
# payload} envelope (to ~Sept 2025): bare response items.
CODEX_ITEMS = frozenset({"message", "function_call", "function_call_output", "custom_tool_call",
                         "custom_tool_call_output", "local_shell_call", "web_search_call", "reasoning"})

# Of those, the tool calls and their outputs.
CODEX_CALLS = ("function_call", "custom_tool_call", "local_shell_call", "web_search_call")
CODEX_OUTPUTS = ("function_call_output", "custom_tool_call_output")

# --- the kinds each agent's lines come in, as far as this zergd knows them ----
# A kind not listed is still kept and shown raw; it is counted per agent
# version (zergd doctor, zergd status) so a format change is seen the day it
# ships.  From the agents' own sources and the lines real transcripts hold.

CLAUDE_TYPES = frozenset({
    "user", "assistant", "system", "summary", "attachment", "progress", "file-history-snapshot", "queue-operation",
    "last-prompt", "permission-mode", "ai-title", "custom-title", "tag", "agent-name", "agent-setting", "agent-color",
    "pr-link", "mode", "bridge-session", "worktree-state", "teleported-from"})
CLAUDE_SYSTEM_SUBTYPES = frozenset({
    "compact_boundary", "microcompact_boundary", "turn_duration", "stop_hook_summary", "api_error", "away_summary",
    "local_command", "informational", "bridge_status"})
CLAUDE_ATTACHMENTS = frozenset({
    "queued_command", "file", "compact_file_reference", "deferred_tools_delta", "mcp_instructions_delta",
    "command_permissions", "skill_listing", "task_reminder", "todo_reminder"})  # and every hook_*
CLAUDE_TOOLS = frozenset({
    "Agent", "Artifact", "AskUserQuestion", "Bash", "BashOutput", "Edit", "ExitPlanMode", "Glob", "Grep", "LS",
    "Monitor", "MultiEdit", "NotebookEdit", "Read", "ScheduleWakeup", "SendMessage", "Skill", "Task", "TaskCreate",
    "TaskGet", "TaskList", "TaskOutput", "TaskStop", "TaskUpdate", "TodoWrite", "ToolSearch", "WebFetch", "WebSearch",
    "Workflow", "Write"})  # and every mcp__<server>__<tool>

CODEX_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted",
                         "inter_agent_communication", "inter_agent_communication_metadata",
                         "world_state"})  # codex-rs/protocol: RolloutItem (world_state: the AGENTS.md and such a thread saw)
# codex-rs/rollout/src/policy.rs: the events a rollout keeps (and older ones).
CODEX_EVENTS = frozenset({
    "user_message", "agent_message", "agent_reasoning", "agent_reasoning_raw_content", "patch_apply_end",
    "token_count", "thread_goal_updated", "context_compacted", "entered_review_mode", "exited_review_mode",
    "mcp_tool_call_end", "thread_rolled_back", "turn_aborted", "turn_started", "turn_complete", "web_search_end",
    "image_generation_end", "sub_agent_activity", "item_completed", "task_started", "task_complete",
    "exec_command_end", "error", "thread_name_updated"})
CODEX_RESPONSE_ITEMS = CODEX_ITEMS | frozenset({
    "agent_message", "tool_search_call", "tool_search_output", "image_generation_call", "compaction",
    "context_compaction", "additional_tools", "ghost_snapshot"})
# codex-rs/protocol/src/items.rs: TurnItem
CODEX_TURN_ITEMS = frozenset({
    "UserMessage", "HookPrompt", "AgentMessage", "Plan", "Reasoning", "CommandExecution", "DynamicToolCall",
    "CollabAgentToolCall", "SubAgentActivity", "WebSearch", "ImageView", "Sleep", "ImageGeneration", "FileChange",
    "McpToolCall", "ContextCompaction"})

# Of those, the tool calls, and the name each is listed (and drawn) under.
CODEX_TURN_TOOLS = {"CommandExecution": "shell", "FileChange": "apply_patch", "McpToolCall": "mcp",
                    "WebSearch": "web_search", "DynamicToolCall": "tool"}

CODEX_CONTEXT_RE = re.compile(r"^\s*(" + "|".join(re.escape(p) for p in CODEX_CONTEXT) + ")")


def is_codex_context(text: str) -> bool:
    return CODEX_CONTEXT_RE.match(text) is not None
