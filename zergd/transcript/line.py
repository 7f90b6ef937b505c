"""One transcript line as every reader takes it, whatever agent wrote it,
and the small pure helpers each provider's parser shares."""

from __future__ import annotations

import re
from typing import NamedTuple

import orjson

TITLE_CAP = 200

# The msg_key of a line whose usage is the session's running totals so far
# (Codex's token_count), not one response's: the index records each rise.
RUNNING_TOTALS = ("running-totals", "")


class Usage(NamedTuple):
    """The tokens one API response (or one Codex rise) used."""

    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    cache_1h: int = 0  # of the cache writes, those kept an hour (priced apart)
    web_searches: int = 0


class Line:
    """One parsed line.  Plain attributes (no dataclass) because the writer
    builds hundreds of thousands of these per backfill."""

    __slots__ = (
        "offset", "length", "lineno", "partial", "type", "uuid", "parent_uuid", "ts", "role",
        "tools", "sidechain", "malformed", "text", "cwd", "branch", "model", "session_id",
        "agent_id", "msg_key", "usage", "prompt", "command", "ai_title", "custom_title", "summary",
        "is_assistant", "runs", "unknown", "version", "entrypoint", "forked_from", "spawned", "copied",
    )

    def __init__(self, offset: int, length: int, lineno: int):
        self.offset = offset
        self.length = length
        self.lineno = lineno
        self.partial = 0
        self.type = self.uuid = self.parent_uuid = self.ts = self.role = self.tools = None
        self.sidechain = self.malformed = 0
        self.text = ""
        self.runs = ""  # its runs of scripts without spaces, for substring search (index.parse.index_text)
        self.cwd = self.branch = self.model = self.session_id = self.agent_id = None
        self.msg_key = None  # (response id, request id): what usage is deduplicated by
        self.usage: Usage | None = None
        self.prompt = self.command = self.ai_title = self.custom_title = None
        self.summary = None
        self.is_assistant = False
        self.unknown: tuple[str, ...] = ()  # kinds in it its agent's module does not know (drift)
        self.version: str | None = None  # the agent's version that wrote it, where the line says
        self.entrypoint: str | None = None  # where the agent ran (Claude Code: cli, vscode, ...)
        # A session's own header naming the thread it was forked or spawned
        # from (Codex: its file then opens with a copy of that thread's history).
        self.forked_from: str | None = None
        self.spawned = False  # ...spawned as a subagent by that thread, not forked by the user
        self.copied = 0  # part of that copy (the writer decides: it needs the lines before)


def string(v) -> str | None:
    return v if isinstance(v, str) else None


def count(v) -> int:
    """A token count as written, or 0 (never a bool, a float or a string)."""
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def joined(parts: list[str]) -> str:
    return "\n".join(p for p in parts if p)


def json_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    try:
        return orjson.dumps(v).decode()
    except TypeError:
        return ""


def texts_of(blocks) -> list[str]:
    """The ``text`` of each block of a content list that has one."""
    if not isinstance(blocks, list):
        return []
    return [b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]


def result_text(content) -> str:
    """The text of a tool result's content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    return "\n".join(texts_of(content))


# Context the IDE or harness wraps around what the user typed; not a title.
_INJECTED = re.compile(r"^\s*<(ide_selection|ide_opened_file|system-reminder)>.*?</\1>\s*", re.S)


def title_of(text: str) -> str | None:
    while True:
        stripped = _INJECTED.sub("", text, count=1)
        if stripped == text or not stripped.strip():
            break
        text = stripped
    text = " ".join(text[: TITLE_CAP * 4].split())
    return text[:TITLE_CAP] if text else None


_DRIVE = re.compile(r"^[a-zA-Z]:")


def canonical_cwd(cwd: str | None) -> str | None:
    """One project, one name: a cwd as the agent reported it, with a Windows
    drive letter in upper case (``c:\\code`` and ``C:\\code`` are one folder)
    and no trailing separator (``/home/x/`` is ``/home/x``)."""
    if not cwd or not cwd.strip():
        return None
    path = cwd.strip()
    if _DRIVE.match(path):
        path = path[0].upper() + path[1:]
    while len(path) > 1 and path[-1] in "/\\" and not (len(path) == 3 and _DRIVE.match(path)):
        path = path[:-1]
    return path

