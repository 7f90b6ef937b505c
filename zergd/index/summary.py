"""What a session's row says about it, folded from its lines: title, time
span, project, branch, models, parent, counts.  Pure - no I/O - so every
index backend folds lines the same way; the writer loads the row, folds new
lines into it and stores it back."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..transcript.line import RUNNING_TOTALS, TITLE_CAP, Line, canonical_cwd

# Title sources, weakest first; a stronger one replaces a weaker one, as the
# agents' own session pickers show them: a name the user gave (/rename,
# Codex's thread name; the last one wins), then the agent's ai-title, then a
# summary of the session (by its leafUuid), then the first typed prompt; a
# slash command (/login, /exit) only while there is nothing else.
RANK_COMMAND, RANK_PROMPT, RANK_SUMMARY, RANK_AI_TITLE, RANK_CUSTOM = 1, 2, 3, 4, 5


@dataclass
class SessionSummary:
    session_id: str
    title: str | None = None
    title_rank: int = 0
    first_ts: str | None = None
    last_ts: str | None = None
    git_branch: str | None = None
    models: list[str] = field(default_factory=list)  # in order of first use
    project: str | None = None
    parent_session_id: str | None = None
    is_subagent: bool = False
    agent_version: str | None = None  # the newest a line names
    entrypoint: str | None = None  # where the agent ran, as its first line that says so


@dataclass
class Added:
    """Counts the folded lines add; ``keyed`` lines carry usage to deduplicate
    per (message.id, requestId), so their assistant messages are counted there."""

    user_messages: int = 0
    assistant_messages: int = 0
    tool_calls: int = 0
    lines: int = 0
    keyed: list[Line] = field(default_factory=list)
    # (leaf uuid, title) of summary lines: they title whichever session owns
    # the leaf, which only the index can find (Writer._apply_summaries).
    summaries: list[tuple[str, str]] = field(default_factory=list)


WARMUP = "Warmup"


def fold(s: SessionSummary, lines: list[Line]) -> Added:
    """Fold ``lines`` (in file order) into ``s``; return what they add."""
    added = Added(lines=len(lines))
    model = s.models[-1] if s.models else None
    for ln in lines:
        ts = ln.ts
        if ts:
            if s.first_ts is None or ts < s.first_ts:
                s.first_ts = ts
            if s.last_ts is None or ts > s.last_ts:
                s.last_ts = ts
        if ln.copied:  # another thread's history (forks.py): only its running totals, as a baseline
            if ln.msg_key == RUNNING_TOTALS:
                added.keyed.append(ln)
            continue
        if ln.forked_from and ln.lineno == 1:
            s.parent_session_id, s.is_subagent = ln.forked_from, ln.spawned
        if ln.cwd and s.project is None:
            s.project = canonical_cwd(ln.cwd)
        if ln.branch and ln.branch != "HEAD":
            s.git_branch = ln.branch
        if ln.model and ln.model not in s.models:
            s.models.append(ln.model)
        if ln.tools:
            added.tool_calls += ln.tools.count(",") + 1
        if ln.prompt and ln.sidechain and ln.prompt == WARMUP:
            pass  # Claude Code 2.0 warms each subagent's cache with this: nobody asked it
        elif ln.prompt and (s.is_subagent or not ln.sidechain):
            # Inline sidechain prompts (old format) are a subagent's, not the user's.
            added.user_messages += 1
            if s.title_rank < RANK_PROMPT:
                s.title, s.title_rank = ln.prompt, RANK_PROMPT
        elif ln.command and (s.is_subagent or not ln.sidechain):
            added.user_messages += 1  # a session started by a command has a prompt: the command
            if s.title_rank < RANK_COMMAND:
                s.title, s.title_rank = ln.command, RANK_COMMAND
        elif ln.custom_title:
            s.title, s.title_rank = ln.custom_title, RANK_CUSTOM
        elif ln.ai_title and s.title_rank <= RANK_AI_TITLE:
            s.title, s.title_rank = ln.ai_title[:TITLE_CAP], RANK_AI_TITLE
        if ln.session_id and s.parent_session_id is None and ln.sidechain and ln.session_id != s.session_id:
            s.parent_session_id = ln.session_id  # legacy agent-*.jsonl files name their parent inside
        if ln.summary and ln.summary[1]:
            added.summaries.append(ln.summary)
        if ln.model:
            model = ln.model
        if ln.version:
            s.agent_version = ln.version
        if ln.entrypoint and s.entrypoint is None:
            s.entrypoint = ln.entrypoint
        if ln.msg_key:
            if ln.msg_key == RUNNING_TOTALS and not ln.model:
                ln.model = model  # Codex names the model in turn_context, not beside the tokens
            added.keyed.append(ln)
        elif ln.is_assistant:
            added.assistant_messages += 1
    return added
