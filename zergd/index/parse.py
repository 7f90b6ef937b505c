"""Turn one transcript line (raw bytes, no newline) into what the index keeps.

Pure functions with no I/O: the writer calls ``parse_line`` on new bytes,
and the FTS content view calls ``fts_text`` on archived bytes, so the text a
line is indexed under can always be re-derived from the archive (I4).

What a line means is its agent's (``zergd.transcript``): each line is
read by the agent that claims it; this module adds what the index needs
(caps, the text as the word indexes take it, substring runs).
"""

from __future__ import annotations

import re

import orjson

from ..transcript import for_line
from ..transcript.line import Line

# Bumped whenever what a line is indexed under changes (its text, title,
# counts): an index made by an older parser is re-derived from the archive
# (reindex.rebuild_if_stale), since FTS5 must see the same text it indexed.
PARSER_VERSION = 11

# Every word of every message is searchable: a line's text is not cut.  A
# line that is not JSON (or too long to parse) is indexed from this many
# characters of its start.
RAW_TEXT_CAP = 64_000
# A line longer than this is archived, indexed and shown raw, but not parsed
# as JSON: parsing takes several times a line's size in memory, and the
# daemon's memory must stay bounded whatever a file holds.  Real lines reach
# ~50 MB (base64 images, tool output); those are parsed.
PARSE_CAP = 64 << 20

_loads = orjson.loads

# Scripts written without spaces between words (CJK, Thai, Lao, Khmer,
# Myanmar) and emoji: a word index cannot find a piece of them, so their runs
# are also found as substrings (reader.split_terms; a trigram index on each backend).
SUBSTRING_CLASS = ("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u2600-\u27bf\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff"
                   "\uff66-\uff9f\U0001f000-\U0001faff]")
SUBSTRING_RUN = re.compile(SUBSTRING_CLASS + "+")
_ONE = re.compile(SUBSTRING_CLASS)
WORD_JOINER = "\u2060"


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
    agent = for_line(obj)
    agent.parse(obj, line)
    line.unknown = agent.unknown_kinds(obj)
    line.version = agent.version_of(obj)
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


