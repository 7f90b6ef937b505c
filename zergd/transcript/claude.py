"""Claude Code: ``<config dir>/projects/<project>/<session>.jsonl``, one line
per content block, a format that changes monthly: anything unknown is kept
with whatever fields it has, never rejected.

Layouts (see DESIGN.md, Sources):
  <project>/<session>.jsonl                        main session
  <project>/agent-<id>.jsonl                       subagent, CC 2.0.x ("legacy")
  <project>/<session>/subagents/agent-<id>.jsonl   subagent, CC >= 2.1.2
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zlib
from pathlib import Path, PurePosixPath

from .conversation import Conversation, Part, Tool, image_of
from .line import Line, Usage, count, joined, json_text, result_text, string, texts_of, title_of
from .provider import Provider, SourceInfo, path_digest
from .vocabulary import CLAUDE_ATTACHMENTS, CLAUDE_NOT_TYPED, CLAUDE_SYSTEM_SUBTYPES, CLAUDE_TOOLS, CLAUDE_TYPES

_COMMAND = re.compile(r"^\s*<command-(?:name|message)>([^<]*)</command-(?:name|message)>", re.S)
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)


class Claude(Provider):
    name = "claude"
    label = "Claude Code"
    speaker = "Claude"
    resume = "claude --resume {id}"
    env = "CLAUDE_CONFIG_DIR"
    setting = "claude_dir"
    home = ".claude"
    roots = ("projects",)
    history = "history.jsonl"
    vendor = "anthropic"
    usage_windows = True
    optional = False

    def default_dir(self) -> Path:
        home_claude = Path.home() / ".claude"
        xdg_claude = Path.home() / ".config" / "claude"
        # Some Claude Code versions write to ~/.config/claude instead.
        if not (home_claude / "projects").exists() and (xdg_claude / "projects").exists():
            return xdg_claude
        return home_claude

    def session_id(self, rel: str) -> str:
        """A subagent's id (``agent-<short id>``) is unique only within its
        parent session, so it is qualified by a digest of its path."""
        stem = PurePosixPath(rel).stem
        return f"{stem}-{path_digest(self.name, rel)}" if stem.startswith("agent-") else stem

    def describe(self, rel: str) -> SourceInfo:
        parts = PurePosixPath(rel).parts
        stem = PurePosixPath(rel).stem
        project = parts[0] if len(parts) > 1 else None
        agent = stem[len("agent-"):] if stem.startswith("agent-") else None
        # <session>/subagents/agent-<id>.jsonl, or a workflow run's: <session>/subagents/workflows/<run>/...
        nested = agent and len(parts) >= 4 and "subagents" in parts[1:-1]
        parent = parts[parts.index("subagents", 1) - 1] if nested else None
        return SourceInfo(self.name, rel, self.session_id(rel), project, parent, agent)

    def session_folder(self, rel: str) -> str | None:
        """``proj/<session>`` for ``proj/<session>.jsonl`` and for its
        subagents' transcripts under ``proj/<session>/subagents/``."""
        parts = rel.split("/")
        if "subagents" in parts[1:-1]:
            return "/".join(parts[: parts.index("subagents", 1)])
        return rel[: -len(".jsonl")] if rel.endswith(".jsonl") and len(parts) >= 2 else None

    def claims(self, obj: dict) -> bool:
        return True  # the fallback: whatever no other agent claims is read as Claude Code's

    def parse(self, obj: dict, line: Line) -> None:
        if is_typed_prompt(obj):
            _typed_prompt(obj, line)
            return
        get = obj.get
        t = get("type")
        line.type = t if isinstance(t, str) else None
        line.uuid = string(get("uuid"))
        line.parent_uuid = string(get("parentUuid"))
        line.ts = string(get("timestamp"))
        line.sidechain = 1 if get("isSidechain") else 0
        line.cwd = string(get("cwd"))
        line.branch = string(get("gitBranch")) or None
        line.session_id = string(get("sessionId"))
        line.agent_id = string(get("agentId"))
        line.entrypoint = string(get("entrypoint"))
        msg = get("message")
        if isinstance(msg, dict):
            _message(obj, msg, line)
        elif t == "summary":
            # Names the conversation that ends at leafUuid, often in another file
            # (a resumed session starts with its predecessors' summaries).
            leaf = string(get("leafUuid"))
            line.summary = (leaf, title_of(string(get("summary")) or "")) if leaf else None
            line.text = joined([string(get("summary")) or ""])
        elif t == "ai-title":
            line.ai_title = string(get("aiTitle"))
            line.text = joined([line.ai_title or ""])
        elif t == "custom-title":  # the user's /rename: the last one names the session
            line.custom_title = title_of(string(get("customTitle")) or "")
            line.text = joined([line.custom_title or ""])
        elif t == "pr-link":  # the pull request the session opened or worked on
            number = get("prNumber")
            line.text = joined([f"PR #{number}" if isinstance(number, int) else "",
                                string(get("prRepository")) or "", string(get("prUrl")) or ""])
        elif t == "system":
            content = get("content")
            if isinstance(content, str):
                line.text = content
        elif t == "attachment" and (said := steering(obj)) is not None:
            # What the user typed while Claude worked: their words, read at the next step.
            line.role, line.text = "user", said
            if said.strip() and not said.lstrip().startswith(CLAUDE_NOT_TYPED):
                line.prompt = title_of(said)

    def unknown_kinds(self, obj: dict) -> tuple[str, ...]:
        t = obj.get("type")
        if t not in CLAUDE_TYPES and not is_typed_prompt(obj):
            return (str(t) if isinstance(t, str) else "(no type)",)
        if t == "system":
            sub = obj.get("subtype")
            return (f"system/{sub}",) if isinstance(sub, str) and sub not in CLAUDE_SYSTEM_SUBTYPES else ()
        if t == "attachment":
            kind = obj.get("attachment", {}).get("type") if isinstance(obj.get("attachment"), dict) else None
            known = kind in CLAUDE_ATTACHMENTS or (isinstance(kind, str) and kind.startswith("hook_"))
            return () if known or not isinstance(kind, str) else (f"attachment/{kind}",)
        msg = obj.get("message")
        content = msg.get("content") if isinstance(msg, dict) else None
        if t != "assistant" or not isinstance(content, list):
            return ()
        return tuple(f"tool/{b['name']}" for b in content if isinstance(b, dict) and b.get("type") == "tool_use"
                     and isinstance(b.get("name"), str) and b["name"] not in CLAUDE_TOOLS
                     and not b["name"].startswith("mcp__"))

    def version_of(self, obj: dict) -> str | None:
        return string(obj.get("version"))

    def feed(self, obj: dict, conversation: Conversation) -> None:
        if isinstance(obj.get("message"), dict):
            _feed_message(obj, conversation)
        elif obj.get("type") == "summary" and isinstance(obj.get("summary"), str):
            conversation.divider(None, f"Summary: {obj['summary']}")
        elif obj.get("type") == "system" and obj.get("subtype") == "compact_boundary":
            conversation.divider(obj.get("timestamp"), "Conversation compacted")
        elif obj.get("type") == "attachment" and (said := steering(obj)):
            conversation.current("user", obj.get("timestamp")).parts.append(Part("text", said))
        elif is_typed_prompt(obj):
            conversation.current("user", _epoch_ms(obj.get("timestamp"))).parts.append(
                Part("text", typed_prompt_text(obj)))


def _message(obj: dict, msg: dict, line: Line) -> None:
    role = msg.get("role")
    line.role = role if isinstance(role, str) else None
    content = msg.get("content")
    parts: list[str] = []
    tools: list[str] = []
    prompt_parts: list[str] = []
    if isinstance(content, str):
        parts.append(content)
        prompt_parts.append(content)
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, dict):
                _block(block, parts, tools, prompt_parts)
    if tools:
        line.tools = ",".join(tools)
    line.text = joined(parts)
    if role == "assistant":
        _response(obj, msg, line)
    elif role == "user" and prompt_parts and is_real_prompt(obj, prompt_parts):
        line.prompt = title_of("\n".join(prompt_parts))
    elif role == "user" and prompt_parts and not obj.get("isMeta"):
        line.command = _slash_command(prompt_parts[0])


def _block(block: dict, parts: list[str], tools: list[str], prompt_parts: list[str]) -> None:
    bt = block.get("type")
    if bt == "text":
        s = string(block.get("text")) or ""
        parts.append(s)
        prompt_parts.append(s)
    elif bt == "thinking":
        parts.append(string(block.get("thinking")) or "")
    elif bt in ("tool_use", "server_tool_use"):  # server_tool_use: web search and fetch run by the API
        name = string(block.get("name")) or "?"
        tools.append(name)
        parts.append(name)
        parts.append(json_text(block.get("input")))
    elif bt == "tool_result":
        parts.append(result_text(block.get("content")))


def _response(obj: dict, msg: dict, line: Line) -> None:
    """An API response's model and usage, keyed so that each response counts
    once however many lines (one per content block) and files repeat it:

    - by its ``message.id`` and ``requestId``; a response written with no
      message id (some proxies) by its requestId, else by the line's uuid;
    - and by what it was asked with (its model and input-side tokens, the
      same on every line of one response): two different responses that a
      proxy gave one id (``msg_20251030084941``, to the second) stay two.

    Cache writes are the 5-minute and 1-hour parts where the line has them
    (priced apart), else ``cache_creation_input_tokens``."""
    line.is_assistant = True
    model = msg.get("model")
    line.model = model if isinstance(model, str) and model != "<synthetic>" else None
    mid, request = msg.get("id"), string(obj.get("requestId")) or ""
    if not isinstance(mid, str) or not mid:
        uuid = string(obj.get("uuid"))
        if not request and not uuid:
            return
        mid = f"request:{request}" if request else f"line:{uuid}"
    usage = msg.get("usage")
    if not isinstance(usage, dict):
        line.msg_key = (mid, request)
        return
    split = usage.get("cache_creation")
    server = usage.get("server_tool_use")
    parts = split if isinstance(split, dict) and ("ephemeral_5m_input_tokens" in split
                                                  or "ephemeral_1h_input_tokens" in split) else None
    hour = count(parts.get("ephemeral_1h_input_tokens")) if parts else 0
    writes = count(parts.get("ephemeral_5m_input_tokens")) + hour if parts else \
        count(usage.get("cache_creation_input_tokens"))
    line.usage = Usage(count(usage.get("input_tokens")), count(usage.get("output_tokens")), writes,
                       count(usage.get("cache_read_input_tokens")), hour,
                       count(server.get("web_search_requests")) if isinstance(server, dict) else 0)
    asked = zlib.crc32(b"%d|%d|%d" % (line.usage.input, writes, line.usage.cache_read),
                       zlib.crc32(line.model.encode("utf-8", "surrogatepass")) if line.model else 0)
    line.msg_key = (mid, f"{request}#{asked:08x}")


def steering(obj: dict) -> str | None:
    """The words of a message the user typed while Claude was working (a
    ``queued_command`` attachment; not a background task's notification)."""
    att = obj.get("attachment")
    if not isinstance(att, dict) or att.get("type") != "queued_command" or att.get("commandMode") == "task-notification":
        return None
    prompt = att.get("prompt")
    return prompt if isinstance(prompt, str) else "\n".join(texts_of(prompt)) if isinstance(prompt, list) else None


# --- the prompt history: history.jsonl ------------------------------------------
# One line per prompt typed, in any session: {"display": what was typed (a
# long paste shown as "[Pasted text #1 +42 lines]"), "pastedContents": {"1":
# {"id", "type": "text", "content"}} (a very long paste has a "contentHash"
# into paste-cache/ instead), "timestamp": epoch milliseconds, "project": the
# cwd, "sessionId" (older versions wrote none)}.

# A session id that came from a line, not a file name, must be a plain name.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def is_typed_prompt(obj: dict) -> bool:
    """Whether a line is a prompt history entry (it has no type)."""
    return "type" not in obj and isinstance(obj.get("display"), str) and "timestamp" in obj


def typed_prompt_text(obj: dict) -> str:
    """What was typed, with the text of its pastes where the entry holds it."""
    pasted = obj.get("pastedContents")
    pastes = [p.get("content") for p in pasted.values() if isinstance(p, dict)] if isinstance(pasted, dict) else []
    return joined([obj["display"], *(p for p in pastes if isinstance(p, str))])


def prompt_session(obj: dict) -> str:
    """The session a history entry was typed in: its sessionId, or (older
    entries name none) one per project, "prompts-<digest of the project>"."""
    sid = obj.get("sessionId")
    if isinstance(sid, str) and _PLAIN_ID.match(sid):
        return sid
    project = obj.get("project") if isinstance(obj.get("project"), str) else ""
    return "prompts-" + hashlib.sha1(project.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _epoch_ms(v) -> str | None:
    """An epoch in milliseconds as the ISO time transcripts write, or None
    for anything that is not a plausible one."""
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < 253402300800000:
        return None
    return dt.datetime.fromtimestamp(v / 1000, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _typed_prompt(obj: dict, line: Line) -> None:
    line.role, line.ts = "user", _epoch_ms(obj.get("timestamp"))
    line.cwd = string(obj.get("project"))
    line.session_id = prompt_session(obj)
    line.text = typed_prompt_text(obj)
    shown = obj["display"]
    if shown.lstrip().startswith("/"):
        line.command = title_of(shown.strip())
    elif shown.strip():
        line.prompt = title_of(shown)


def is_real_prompt(obj: dict, parts: list[str]) -> bool:
    """Whether a user line is something the person typed (Claude Code also
    writes meta lines, compaction summaries and command wrappers as "user")."""
    if obj.get("isMeta") or obj.get("isCompactSummary") or obj.get("isVisibleInTranscriptOnly"):
        return False
    first = parts[0].lstrip()
    return bool(first) and not first.startswith(CLAUDE_NOT_TYPED)


def _slash_command(text: str) -> str | None:
    """``/name args`` of a slash command the user typed (Claude Code writes
    it as <command-name>/name</command-name> ... <command-args>args</command-args>)."""
    m = _COMMAND.match(text)
    if not m or not m.group(1).strip():
        return None
    name = m.group(1).strip()
    args = _COMMAND_ARGS.search(text)
    return title_of(("" if name.startswith("/") else "/") + name + (" " + args.group(1) if args else ""))


# --- read as a conversation ---------------------------------------------------


def _feed_message(obj: dict, conversation: Conversation) -> None:
    msg = obj["message"]
    ts = obj.get("timestamp")
    content = msg.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks = [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    if obj.get("isCompactSummary"):
        conversation.current("divider", ts).parts.append(Part("context", "\n\n".join(texts_of(blocks))))
    elif msg.get("role") == "assistant":
        _feed_response(msg, ts, blocks, conversation)
    else:
        _feed_user(obj, ts, blocks, conversation)


def _feed_response(msg: dict, ts, blocks: list[dict], conversation: Conversation) -> None:
    model = msg.get("model") if msg.get("model") != "<synthetic>" else None
    turn = conversation.current("assistant", ts, model)
    for b in blocks:
        t = b.get("type")
        if t == "text" and b.get("text"):
            turn.parts.append(Part("text", b["text"]))
        elif t == "thinking" and b.get("thinking"):
            turn.parts.append(Part("thinking", b["thinking"]))
        elif t in ("tool_use", "server_tool_use"):
            conversation.call(b.get("id"), Tool(str(b.get("name") or "tool"), b.get("input")), ts)
        elif t == "image":
            _image(turn, b)


def _feed_user(obj: dict, ts, blocks: list[dict], conversation: Conversation) -> None:
    results = [b for b in blocks if b.get("type") == "tool_result"]
    for b in results:
        content = b.get("content")
        images = [image_of(c) for c in content if isinstance(c, dict) and c.get("type") == "image"] \
            if isinstance(content, list) else []
        conversation.result(b.get("tool_use_id"), result_text(content), bool(b.get("is_error")),
                            [i for i in images if i])
    rest = [b for b in blocks if b.get("type") in ("text", "image")]
    if not rest or obj.get("isMeta"):
        return
    text = "\n\n".join(texts_of(rest))
    typed = not text.lstrip().startswith(CLAUDE_NOT_TYPED)
    turn = conversation.current("user", ts) if typed or not results else conversation.current("assistant", ts)
    if text.strip():
        turn.parts.append(Part("text" if typed else "context", text))
    for b in rest:
        if b.get("type") == "image":
            _image(turn, b)


def _image(turn, block: dict) -> None:
    img = image_of(block)
    turn.parts.append(Part("image", image=img) if img else Part("notice", "(an image in a form not shown here)"))


PROVIDER = Claude()
