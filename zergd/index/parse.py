"""Turn one transcript line (raw bytes, no newline) into what the index keeps.

Pure functions with no I/O: the writer calls ``parse_line`` on new bytes,
and the FTS content view calls ``fts_text`` on archived bytes, so the text a
line is indexed under can always be re-derived from the archive (I4).

Claude Code writes one line per content block and changes its format
monthly; anything unknown is kept with whatever fields it has, never
rejected.  Codex CLI lines are ``{timestamp, type, payload}``.
"""

from __future__ import annotations

import re

import orjson

from ..transcript.vocabulary import CLAUDE_NOT_TYPED, CODEX_CONTEXT, CODEX_ITEMS

# Bumped whenever what a line is indexed under changes (its text, title,
# counts): an index made by an older parser is re-derived from the archive
# (reindex.rebuild_if_stale), since FTS5 must see the same text it indexed.
PARSER_VERSION = 8

# Every word of every message is searchable: a line's text is not cut.  A
# line that is not JSON (or too long to parse) is indexed from this many
# characters of its start.
RAW_TEXT_CAP = 64_000
TITLE_CAP = 200
# A line longer than this is archived, indexed and shown raw, but not parsed
# as JSON: parsing takes several times a line's size in memory, and the
# daemon's memory must stay bounded whatever a file holds.  Real lines reach
# ~50 MB (base64 images, tool output); those are parsed.
PARSE_CAP = 64 << 20

# msg_key of a Codex token_count line: its usage is the session's running totals.
CODEX_TOTALS = ("codex-totals", "")

_loads = orjson.loads
_dumps = orjson.dumps


class Line:
    """One parsed line.  Plain attributes (no dataclass) because the writer
    builds hundreds of thousands of these per backfill."""

    __slots__ = (
        "offset", "length", "lineno", "partial", "type", "uuid", "parent_uuid", "ts", "role",
        "tools", "sidechain", "malformed", "text", "cwd", "branch", "model", "session_id",
        "agent_id", "msg_key", "usage", "prompt", "command", "ai_title", "custom_title", "summary",
        "is_assistant", "runs",
    )

    def __init__(self, offset: int, length: int, lineno: int):
        self.offset = offset
        self.length = length
        self.lineno = lineno
        self.partial = 0
        self.type = self.uuid = self.parent_uuid = self.ts = self.role = self.tools = None
        self.sidechain = self.malformed = 0
        self.text = ""
        self.runs = ""  # its runs of scripts without spaces, for substring search (index_text)
        self.cwd = self.branch = self.model = self.session_id = self.agent_id = None
        self.msg_key = self.usage = self.prompt = self.command = self.ai_title = self.custom_title = None
        self.summary = None
        self.is_assistant = False


# Scripts written without spaces between words (CJK, Thai, Lao, Khmer,
# Myanmar) and emoji: a word index cannot find a piece of them, so runs of
# these characters are also found as substrings (reader.split_terms, a trigram
# index on each backend).
# Scripts written without spaces between words (CJK, Thai, Lao, Khmer,
# Myanmar) and emoji: a word index cannot find a piece of them, so their runs
# are also found as substrings (reader.split_terms; a trigram index on each backend).
SUBSTRING_CLASS = ("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2600-\u27bf\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
                   "\uff66-\uff9f\U0001f000-\U0001faff]")
SUBSTRING_RUN = re.compile(SUBSTRING_CLASS + "+")
_ONE = re.compile(SUBSTRING_CLASS)
WORD_JOINER = "\u2060"


def _cap(parts: list[str]) -> str:
    return "\n".join(p for p in parts if p)


def index_text(text: str) -> tuple[str, str]:
    """(the text as both word indexes take it, its substring runs space-
    separated).  Where a run touches letters or digits of another script
    ("Pythonのコード") a word joiner (U+2060: invisible, not a word character)
    goes between them, so the word indexes see "python" as a word.  One pass
    over the text: this runs for every line of every import."""
    first = None if text.isascii() else _ONE.search(text)  # one character: the fastest scan
    if first is None:
        return text, ""
    pieces, runs, last = [], [], 0
    for m in SUBSTRING_RUN.finditer(text, first.start()):
        start, end = m.span()
        runs.append(m.group())
        if start and text[start - 1].isalnum():
            pieces += (text[last:start], WORD_JOINER)
            last = start
        if end < len(text) and text[end].isalnum():
            pieces += (text[last:end], WORD_JOINER)
            last = end
    if pieces:
        pieces.append(text[last:])
        text = "".join(pieces)
    return text, " ".join(runs)


def _decode_raw(raw: bytes) -> str:
    return raw[: RAW_TEXT_CAP * 4].decode("utf-8", "replace").replace("\x00", " ")[:RAW_TEXT_CAP]


def _load(raw: bytes):
    try:
        obj = _loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def parse_line(raw: bytes, offset: int, lineno: int, length: int | None = None, *, for_index: bool = True) -> Line:
    """``length`` is the line's true length when ``raw`` is only its start
    (a line too long to parse, see PARSE_CAP): then only its text is kept.
    ``for_index=False`` leaves the text as written (for display: snippets)."""
    line = _parse(raw, offset, lineno, length)
    if for_index and line.text:
        line.text, line.runs = index_text(line.text)
    return line


def _parse(raw: bytes, offset: int, lineno: int, length: int | None) -> Line:
    length = len(raw) if length is None else length
    line = Line(offset, length, lineno)
    obj = _load(raw) if len(raw) == length <= PARSE_CAP else None
    if obj is None:
        line.malformed = 1
        line.text = _decode_raw(raw)
        return line
    if "payload" in obj and "message" not in obj:
        _codex(obj, line)
    elif _is_bare_codex(obj):
        _codex_bare(obj, line)
    else:
        _claude(obj, line)
    return line


def fts_text(raw: bytes, length: int | None = None) -> str:
    """The searchable text of an archived line: same as ``parse_line(...).text``."""
    return parse_line(raw, 0, 0, length).text


def display_text(raw: bytes, length: int | None = None) -> str:
    """The same text as written, for snippets."""
    return parse_line(raw, 0, 0, length, for_index=False).text


def needed_bytes(length: int) -> int:
    """How much of a line of ``length`` bytes parsing it reads."""
    return length if length <= PARSE_CAP else RAW_TEXT_CAP * 4


# --- Claude Code -------------------------------------------------------------


def _claude(obj: dict, line: Line) -> None:
    get = obj.get
    t = get("type")
    line.type = t if isinstance(t, str) else None
    line.uuid = _str(get("uuid"))
    line.parent_uuid = _str(get("parentUuid"))
    line.ts = _str(get("timestamp"))
    line.sidechain = 1 if get("isSidechain") else 0
    line.cwd = _str(get("cwd"))
    line.branch = _str(get("gitBranch")) or None
    line.session_id = _str(get("sessionId"))
    line.agent_id = _str(get("agentId"))
    msg = get("message")
    if isinstance(msg, dict):
        _claude_message(obj, msg, line)
    elif t == "summary":
        # Names the conversation that ends at leafUuid, often in another file
        # (a resumed session starts with its predecessors' summaries).
        leaf = _str(get("leafUuid"))
        line.summary = (leaf, title_of(_str(get("summary")) or "")) if leaf else None
        line.text = _cap([_str(get("summary")) or ""])
    elif t == "ai-title":
        line.ai_title = _str(get("aiTitle"))
        line.text = _cap([line.ai_title or ""])
    elif t == "custom-title":  # the user's /rename: the last one names the session
        line.custom_title = title_of(_str(get("customTitle")) or "")
        line.text = _cap([line.custom_title or ""])
    elif t == "system":
        content = get("content")
        if isinstance(content, str):
            line.text = _cap([content])


def _claude_message(obj: dict, msg: dict, line: Line) -> None:
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
            if not isinstance(block, dict):
                continue
            bt = block.get("type")
            if bt == "text":
                s = _str(block.get("text")) or ""
                parts.append(s)
                prompt_parts.append(s)
            elif bt == "thinking":
                parts.append(_str(block.get("thinking")) or "")
            elif bt in ("tool_use", "server_tool_use"):  # server_tool_use: web search and fetch run by the API
                name = _str(block.get("name")) or "?"
                tools.append(name)
                parts.append(name)
                parts.append(_json_text(block.get("input")))
            elif bt == "tool_result":
                parts.append(result_text(block.get("content")))
    if tools:
        line.tools = ",".join(tools)
    line.text = _cap(parts)
    if role == "assistant":
        line.is_assistant = True
        model = msg.get("model")
        line.model = model if isinstance(model, str) and model != "<synthetic>" else None
        mid = msg.get("id")
        if isinstance(mid, str):
            line.msg_key = (mid, _str(obj.get("requestId")) or "")
            usage = msg.get("usage")
            if isinstance(usage, dict):
                split = usage.get("cache_creation")
                server = usage.get("server_tool_use")
                line.usage = (
                    _int(usage.get("input_tokens")),
                    _int(usage.get("output_tokens")),
                    _int(usage.get("cache_creation_input_tokens")),
                    _int(usage.get("cache_read_input_tokens")),
                    # of the cache writes, those kept an hour (priced 2x input, not 1.25x)
                    _int(split.get("ephemeral_1h_input_tokens")) if isinstance(split, dict) else 0,
                    _int(server.get("web_search_requests")) if isinstance(server, dict) else 0,
                )
    elif role == "user" and prompt_parts and is_real_prompt(obj, prompt_parts):
        line.prompt = title_of("\n".join(prompt_parts))
    elif role == "user" and prompt_parts and not obj.get("isMeta"):
        line.command = _slash_command(prompt_parts[0])


# Lines Claude Code writes in the user's name that the user did not type.


def is_real_prompt(obj: dict, parts: list[str]) -> bool:
    if obj.get("isMeta") or obj.get("isCompactSummary") or obj.get("isVisibleInTranscriptOnly"):
        return False
    first = parts[0].lstrip()
    return bool(first) and not first.startswith(CLAUDE_NOT_TYPED)


_COMMAND = re.compile(r"^\s*<command-(?:name|message)>([^<]*)</command-(?:name|message)>", re.S)
_COMMAND_ARGS = re.compile(r"<command-args>(.*?)</command-args>", re.S)


def _slash_command(text: str) -> str | None:
    """``/name args`` of a slash command the user typed (Claude Code writes
    it as <command-name>/name</command-name> ... <command-args>args</command-args>)."""
    m = _COMMAND.match(text)
    if not m or not m.group(1).strip():
        return None
    name = m.group(1).strip()
    args = _COMMAND_ARGS.search(text)
    return title_of(("" if name.startswith("/") else "/") + name + (" " + args.group(1) if args else ""))


def result_text(content) -> str:
    """The text of a tool_result's content (a string or a list of blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)
        )
    return ""


# --- Codex CLI ---------------------------------------------------------------


def _codex(obj: dict, line: Line) -> None:
    t = _str(obj.get("type")) or "?"
    payload = obj.get("payload")
    line.ts = _str(obj.get("timestamp"))
    if not isinstance(payload, dict):
        line.type = t
        return
    pt = _str(payload.get("type"))
    line.type = f"{t}/{pt}" if pt else t
    if t == "session_meta":
        line.session_id = _str(payload.get("id"))
        line.cwd = _str(payload.get("cwd"))
        git = payload.get("git")
        if isinstance(git, dict):
            line.branch = _str(git.get("branch"))
    elif t == "turn_context":
        line.cwd = _str(payload.get("cwd"))
        line.model = _str(payload.get("model"))
    elif t == "response_item":
        _codex_item(pt, payload, line)
    elif t == "event_msg":
        if pt == "user_message":
            message = _str(payload.get("message")) or ""
            line.role = "user"
            if message.strip():
                line.prompt = title_of(message)
        elif pt == "thread_name_updated":  # the user named the thread
            line.custom_title = title_of(_str(payload.get("thread_name")) or "")
            line.text = _cap([line.custom_title or ""])
        elif pt == "error":
            line.text = _cap([_str(payload.get("message")) or ""])
        elif pt == "token_count":
            info = payload.get("info")
            total = info.get("total_token_usage") if isinstance(info, dict) else None
            if isinstance(total, dict):
                # Codex reports running totals; the writer records each increase
                # (writer._record_codex_usage), so a repeated event adds nothing.
                line.msg_key = CODEX_TOTALS
                cached = _int(total.get("cached_input_tokens"))
                line.usage = (_int(total.get("input_tokens")) - cached, _int(total.get("output_tokens")), 0, cached, 0, 0)
    elif t == "compacted":
        line.text = _cap([_str(payload.get("message")) or ""])


# --- Codex CLI before the {timestamp, type, payload} envelope (to ~Sept 2025) ---
#
# Line 1 is {"id", "timestamp", "instructions", "git"}; then bare response
# items ({"type": "message", "role", "content"}, function calls, reasoning)
# and {"record_type": "state"} markers.  No line has its own timestamp, and
# the cwd is only named inside the first user message's <environment_context>.

_CWD = re.compile(r"<cwd>([^<]+)</cwd>|Current working directory: *([^\n]+)")


def _is_bare_codex(obj: dict) -> bool:
    t = obj.get("type")
    if t in CODEX_ITEMS and not isinstance(obj.get("message"), dict):
        return True
    return "record_type" in obj or (t is None and "instructions" in obj and "id" in obj)


def _codex_bare(obj: dict, line: Line) -> None:
    t = _str(obj.get("type"))
    if t is None:
        if "record_type" in obj:
            line.type = "state"
            return
        line.type = "session_meta"
        line.session_id = _str(obj.get("id"))
        line.ts = _str(obj.get("timestamp"))
        git = obj.get("git")
        if isinstance(git, dict):
            line.branch = _str(git.get("branch"))
        return
    line.type = f"response_item/{t}"
    _codex_item(t, obj, line)
    if t == "message" and line.role == "user" and line.text:
        head = line.text.lstrip()
        if head.startswith("<environment_context>"):
            m = _CWD.search(line.text)
            line.cwd = (m.group(1) or m.group(2)).strip() if m else None
        elif not head.startswith(CODEX_CONTEXT):
            line.prompt = title_of(line.text)


def _codex_item(pt: str | None, payload: dict, line: Line) -> None:
    if pt == "message":
        role = _str(payload.get("role"))
        line.role = role
        content = payload.get("content")
        if isinstance(content, list):
            line.text = _cap([b.get("text") or "" for b in content if isinstance(b, dict) and isinstance(b.get("text"), str)])
        line.is_assistant = role == "assistant"
    elif pt in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
        name = _str(payload.get("name")) or pt
        line.tools = name
        line.role = "assistant"
        args = payload.get("arguments", payload.get("input", payload.get("action")))
        line.text = _cap([name, args if isinstance(args, str) else _json_text(args)])
    elif pt in ("function_call_output", "custom_tool_call_output"):
        line.role = "tool"
        out = payload.get("output")
        line.text = _cap([out if isinstance(out, str) else _json_text(out)])
    elif pt == "reasoning":
        summary = payload.get("summary")
        if isinstance(summary, list):
            line.text = _cap([b.get("text") or "" for b in summary if isinstance(b, dict) and isinstance(b.get("text"), str)])


# --- helpers -----------------------------------------------------------------


def _str(v) -> str | None:
    return v if isinstance(v, str) else None


def _int(v) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _json_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    try:
        text = _dumps(v).decode()
    except TypeError:
        return ""
    return text


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
