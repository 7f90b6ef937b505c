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

CODEX_CONTEXT_RE = re.compile(r"^\s*(" + "|".join(re.escape(p) for p in CODEX_CONTEXT) + ")")


def is_codex_context(text: str) -> bool:
    return CODEX_CONTEXT_RE.match(text) is not None
