"""Codex CLI: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<local time>-<uuid>.jsonl``,
lines of ``{timestamp, type, payload}``; ``codex`` archives a session by
moving its rollout to ``archived_sessions/``.

Before the envelope (to ~Sept 2025) line 1 was ``{"id", "timestamp",
"instructions", "git"}``, then bare response items (``{"type": "message",
"role", "content"}``, function calls, reasoning) and ``{"record_type":
"state"}`` markers: no line has its own timestamp, and the cwd is only named
inside the first user message's ``<environment_context>``.
"""

from __future__ import annotations

import json
import re

from .conversation import Conversation, Part, Tool
from .line import RUNNING_TOTALS, Line, Usage, count, joined, json_text, string, texts_of, title_of
from .provider import Provider
from .vocabulary import CODEX_CALLS as CALLS
from .vocabulary import (CODEX_CONTEXT, CODEX_EVENTS, CODEX_ITEMS, CODEX_RESPONSE_ITEMS, CODEX_TURN_ITEMS, CODEX_TYPES,
                         is_codex_context)
from .vocabulary import CODEX_OUTPUTS as OUTPUTS
from .vocabulary import CODEX_TURN_TOOLS as TURN_TOOLS

_CWD = re.compile(r"<cwd>([^<]+)</cwd>|Current working directory: *([^\n]+)")


class Codex(Provider):
    name = "codex"
    label = "Codex"
    speaker = "Codex"
    resume = "codex resume {id}"
    env = "CODEX_HOME"
    setting = "codex_dir"
    home = ".codex"
    roots = ("sessions", "archived_sessions")
    vendor = "openai"
    moves = True

    def claims(self, obj: dict) -> bool:
        return ("payload" in obj and "message" not in obj) or _is_bare(obj)

    def parse(self, obj: dict, line: Line) -> None:
        if "payload" in obj and "message" not in obj:
            _enveloped(obj, line)
        else:
            _bare(obj, line)

    def unknown_kinds(self, obj: dict) -> tuple[str, ...]:
        t, payload = obj.get("type"), obj.get("payload")
        if "payload" not in obj:
            return ()  # the bare format before the envelope: no longer written, fully known
        if t not in CODEX_TYPES:
            return (str(t) if isinstance(t, str) else "(no type)",)
        pt = payload.get("type") if isinstance(payload, dict) else None
        if t == "event_msg" and pt == "item_completed":
            item = payload.get("item")
            kind = item.get("type") if isinstance(item, dict) else None
            return (f"item_completed/{kind}",) if isinstance(kind, str) and kind not in CODEX_TURN_ITEMS else ()
        known = CODEX_EVENTS if t == "event_msg" else CODEX_RESPONSE_ITEMS if t == "response_item" else None
        return (f"{t}/{pt}",) if known is not None and isinstance(pt, str) and pt not in known else ()

    def version_of(self, obj: dict) -> str | None:
        payload = obj.get("payload")
        if obj.get("type") == "session_meta" and isinstance(payload, dict):
            return string(payload.get("cli_version"))
        return None

    def feed(self, obj: dict, conversation: Conversation) -> None:
        if isinstance(obj.get("payload"), dict):
            _feed(obj.get("type"), obj["payload"], obj.get("timestamp"), conversation)
        elif obj.get("type") in CODEX_ITEMS:
            _feed("response_item", obj, None, conversation)


def _is_bare(obj: dict) -> bool:
    t = obj.get("type")
    if t in CODEX_ITEMS and not isinstance(obj.get("message"), dict):
        return True
    return "record_type" in obj or (t is None and "instructions" in obj and "id" in obj)


def _enveloped(obj: dict, line: Line) -> None:
    t = string(obj.get("type")) or "?"
    payload = obj.get("payload")
    line.ts = string(obj.get("timestamp"))
    if not isinstance(payload, dict):
        line.type = t
        return
    pt = string(payload.get("type"))
    line.type = f"{t}/{pt}" if pt else t
    if t == "session_meta":
        line.session_id = string(payload.get("id"))
        line.cwd = string(payload.get("cwd"))
        git = payload.get("git")
        if isinstance(git, dict):
            line.branch = string(git.get("branch"))
        _forked(payload, line)
    elif t == "turn_context":
        line.cwd = string(payload.get("cwd"))
        line.model = string(payload.get("model"))
    elif t == "response_item":
        _item(pt, payload, line)
    elif t == "event_msg":
        _event(pt, payload, line)
    elif t == "compacted":
        line.text = string(payload.get("message")) or ""


def _forked(payload: dict, line: Line) -> None:
    """A forked thread's header names its origin (``forked_from_id``); a
    subagent's also its spawner (``parent_thread_id``, and
    ``source.subagent.thread_spawn.parent_thread_id``)."""
    source = payload.get("source")
    sub = source.get("subagent") if isinstance(source, dict) else None
    spawn = sub.get("thread_spawn") if isinstance(sub, dict) else None
    spawner = string(spawn.get("parent_thread_id")) if isinstance(spawn, dict) else None
    parent = spawner or string(payload.get("parent_thread_id"))
    line.forked_from = parent or string(payload.get("forked_from_id"))
    line.spawned = parent is not None


def _event(pt: str | None, payload: dict, line: Line) -> None:
    if pt == "user_message":
        message = string(payload.get("message")) or ""
        line.role = "user"
        if message.strip():
            line.prompt = title_of(message)
    elif pt == "thread_name_updated":  # the user named the thread
        line.custom_title = title_of(string(payload.get("thread_name")) or "")
        line.text = line.custom_title or ""
    elif pt == "error":
        line.text = string(payload.get("message")) or ""
    elif pt == "item_completed" and isinstance(payload.get("item"), dict):
        _turn_item(payload["item"], line)
    elif pt == "token_count":
        info = payload.get("info")
        total = info.get("total_token_usage") if isinstance(info, dict) else None
        if isinstance(total, dict):
            # Running totals; the writer records each increase
            # (session_rows._codex_increases), so a repeated event adds nothing.
            line.msg_key = RUNNING_TOTALS
            cached = count(total.get("cached_input_tokens"))
            line.usage = Usage(count(total.get("input_tokens")) - cached, count(total.get("output_tokens")),
                               0, cached)


# Paginated history (0.148 on): each turn's items arrive as item_completed
# events whose item is a TurnItem (codex-rs/protocol/src/items.rs), and the
# legacy user_message / agent_message events are no longer written.


def _turn_item(item: dict, line: Line) -> None:
    kind = string(item.get("type"))
    line.type = f"event_msg/item_completed/{kind}" if kind else "event_msg/item_completed"
    if kind == "UserMessage":
        text = "".join(texts_of(item.get("content")))
        line.role, line.text = "user", text
        if text.strip() and not text.lstrip().startswith(CODEX_CONTEXT):
            line.prompt = title_of(text)
    elif kind == "AgentMessage":
        line.role, line.is_assistant = "assistant", True
        line.text = joined(texts_of(item.get("content")))
    elif kind in ("Reasoning", "Plan"):
        line.role = "assistant"
        parts = item.get("summary_text") if kind == "Reasoning" else [item.get("text")]
        line.text = joined([p for p in parts if isinstance(p, str)] if isinstance(parts, list) else [])
    elif kind in TURN_TOOLS:
        line.role, line.tools = "assistant", TURN_TOOLS[kind]
        line.text = joined([TURN_TOOLS[kind], *_tool_texts(kind, item)])


def _tool_texts(kind: str, item: dict) -> list[str]:
    """What a TurnItem tool call says: its command or arguments and its output."""
    if kind == "CommandExecution":
        command = item.get("command")
        shown = " ".join(c for c in command if isinstance(c, str)) if isinstance(command, list) else ""
        return [shown, string(item.get("aggregatedOutput")) or string(item.get("stdout")) or ""]
    if kind == "FileChange":
        changes = item.get("changes")
        return ["\n".join(changes) if isinstance(changes, dict) else "", string(item.get("stdout")) or ""]
    if kind == "WebSearch":
        return [string(item.get("query")) or ""]
    return [string(item.get("tool")) or "", json_text(item.get("arguments"))]


def _bare(obj: dict, line: Line) -> None:
    t = string(obj.get("type"))
    if t is None:
        if "record_type" in obj:
            line.type = "state"
            return
        line.type = "session_meta"
        line.session_id = string(obj.get("id"))
        line.ts = string(obj.get("timestamp"))
        git = obj.get("git")
        if isinstance(git, dict):
            line.branch = string(git.get("branch"))
        return
    line.type = f"response_item/{t}"
    _item(t, obj, line)
    if t == "message" and line.role == "user" and line.text:
        head = line.text.lstrip()
        if head.startswith("<environment_context>"):
            m = _CWD.search(line.text)
            line.cwd = (m.group(1) or m.group(2)).strip() if m else None
        elif not head.startswith(CODEX_CONTEXT):
            line.prompt = title_of(line.text)


def _item(pt: str | None, payload: dict, line: Line) -> None:
    if pt == "message":
        role = string(payload.get("role"))
        line.role = role
        line.text = joined(texts_of(payload.get("content")))
        line.is_assistant = role == "assistant"
    elif pt in CALLS:
        name = string(payload.get("name")) or pt
        line.tools = name
        line.role = "assistant"
        args = payload.get("arguments", payload.get("input", payload.get("action")))
        line.text = joined([name, args if isinstance(args, str) else json_text(args)])
    elif pt in OUTPUTS:
        line.role = "tool"
        out = payload.get("output")
        line.text = out if isinstance(out, str) else json_text(out)
    elif pt == "reasoning":
        line.text = joined(texts_of(payload.get("summary")))


# --- read as a conversation ---------------------------------------------------


def _feed(kind, p: dict, ts, conversation: Conversation) -> None:
    t = p.get("type")
    if kind == "event_msg" and t == "error":
        conversation.current("assistant", ts).parts.append(Part("notice", str(p.get("message") or "error")))
    elif kind == "compacted":
        conversation.current("divider", ts).parts.append(Part("text", "Conversation compacted"))
    elif kind == "event_msg" and t == "item_completed" and isinstance(p.get("item"), dict):
        _feed_turn_item(p["item"], ts, conversation)
    elif kind != "response_item":
        return
    elif t == "message":
        _feed_message(p, ts, conversation)
    elif t in CALLS:
        args = p.get("arguments", p.get("input", p.get("action")))
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                pass
        conversation.call(p.get("call_id"), Tool(str(p.get("name") or t), args), ts)
    elif t in OUTPUTS:
        conversation.result(p.get("call_id"), _output(p.get("output")), False)
    elif t == "reasoning":
        text = "\n\n".join(texts_of(p.get("summary")))
        if text:
            conversation.current("assistant", ts).parts.append(Part("thinking", text))


def _feed_turn_item(item: dict, ts, conversation: Conversation) -> None:
    kind = item.get("type")
    if kind == "UserMessage":
        text = "".join(texts_of(item.get("content")))
        if text.strip() and not is_codex_context(text):
            conversation.current("user", ts).parts.append(Part("text", text))
    elif kind == "AgentMessage":
        text = "\n\n".join(texts_of(item.get("content")))
        if text:
            conversation.current("assistant", ts).parts.append(Part("text", text))
    elif kind == "Reasoning":
        text = "\n\n".join(s for s in item.get("summary_text") or [] if isinstance(s, str))
        if text:
            conversation.current("assistant", ts).parts.append(Part("thinking", text))
    elif kind == "Plan" and isinstance(item.get("text"), str):
        conversation.current("assistant", ts).parts.append(Part("text", item["text"]))
    elif kind in TURN_TOOLS:
        tool = Tool(TURN_TOOLS[kind], _tool_input(kind, item))
        conversation.call(item.get("id"), tool, ts)
        output = _tool_texts(kind, item)[-1]
        if output:
            conversation.result(item.get("id"), output, item.get("status") == "failed")


def _tool_input(kind: str, item: dict):
    if kind == "CommandExecution":
        command = item.get("command")
        return {"command": [c for c in command if isinstance(c, str)] if isinstance(command, list) else ""}
    if kind == "FileChange":
        return {"files": sorted(item["changes"]) if isinstance(item.get("changes"), dict) else []}
    if kind == "WebSearch":
        return {"query": item.get("query")}
    return {"tool": item.get("tool"), "arguments": item.get("arguments")}


def _feed_message(p: dict, ts, conversation: Conversation) -> None:
    text = "\n\n".join(texts_of(p.get("content")))
    role = p.get("role")
    if role == "developer" or is_codex_context(text):
        return
    if role == "user":
        conversation.current("user", ts).parts.append(Part("text", text))
    elif text:
        conversation.current("assistant", ts).parts.append(Part("text", text))


def _output(out) -> str:
    if isinstance(out, str):
        try:  # Codex wraps shell output as {"output": ..., "metadata": {...}}
            inner = json.loads(out)
            out = inner.get("output", out) if isinstance(inner, dict) else out
        except ValueError:
            pass
    return out if isinstance(out, str) else json.dumps(out, indent=2)


PROVIDER = Codex()
