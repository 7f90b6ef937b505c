"""Full-text search: how a query becomes terms, FTS5 quoting, hits and their
snippets; ``SearchQueries`` is the part of the Reader that ranks and caps
them (a backend supplies ``_search``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from .dialect import split_line_id
from .filters import SessionFilter
from .parse import SUBSTRING_RUN
from .snippets import HIGHLIGHT

# A "quoted phrase" or a run of non-space: how user text splits into terms (both backends).
QUERY_TOKEN = re.compile(r'"[^"]*"|[^\s"]+')


def split_terms(query: str) -> tuple[list[str], list[str]]:
    """(word tokens, substring runs) of a plain query: each run of the
    substring scripts becomes a substring to find; the rest of its token
    stays a word, "phrase" or prefix*."""
    tokens, runs = [], []
    for token in QUERY_TOKEN.findall(query):
        found = SUBSTRING_RUN.findall(token)
        if not found:
            tokens.append(token)
            continue
        runs += found
        rest = SUBSTRING_RUN.sub(" ", token.strip('"'))
        if token.startswith('"'):
            tokens.append('"' + rest.strip() + '"')
        else:
            tokens += rest.split()
    return [t for t in tokens if t.strip('"*')], runs


def substring_snippet(text: str, needles: list[str], width: int = 60) -> str:
    low = text.lower()
    at = min((i for i in (low.find(n.lower()) for n in needles) if i >= 0), default=0)
    start, end = max(0, at - width), min(len(text), at + width)
    piece = text[start:end]
    for n in needles:
        piece = re.sub(re.escape(n), lambda m: HIGHLIGHT[0] + m.group(0) + HIGHLIGHT[1], piece, flags=re.I)
    return ("…" if start else "") + piece + ("…" if end < len(text) else "")


def quote_fts(query: str) -> str:
    """Make user text a safe FTS5 query: each word a quoted string (so AND,
    OR, NOT, *, :, ( are plain words), a trailing * kept as a prefix search."""
    parts = []
    for token in QUERY_TOKEN.findall(query):
        prefix = token.endswith("*") and not token.startswith('"')
        word = token.rstrip("*") if prefix else token.strip('"')
        word = word.replace('"', '""')
        if word:
            parts.append(f'"{word}"' + ("*" if prefix else ""))
    return " ".join(parts)


@dataclass
class Hit:
    session_id: str
    generation: int
    offset: int
    lineno: int
    ts: str | None
    type: str | None
    role: str | None
    snippet: str
    title: str | None
    project: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def snippet_parts(snippet: str) -> list[dict]:
    """A highlighted snippet as [{"text", "hit"}] parts, for safe rendering."""
    parts, hit = [], False
    for piece in re.split(f"([{HIGHLIGHT[0]}{HIGHLIGHT[1]}])", snippet):
        if piece == HIGHLIGHT[0]:
            hit = True
        elif piece == HIGHLIGHT[1]:
            hit = False
        elif piece:
            parts.append({"text": piece, "hit": hit})
    return parts


class SearchQueries:
    """Reader methods (see reader.Reader)."""

    def search(self, query: str, *, limit: int = 20, raw: bool = False, session_id: str | None = None,
               flt: SessionFilter | None = None, per_session: int = 0) -> list[Hit]:
        """Best matches first.  ``per_session`` keeps at most that many hits of any
        one session (0: no cap), so one long chat cannot fill the page.  A raw
        query the engine cannot parse is a BadQuery."""
        query = query.replace("\x00", " ")  # no transcript text holds NUL (the index spells it as a space)
        flt = replace(flt, ids=list(flt.ids)) if flt else SessionFilter()  # a copy: the caller's stays as it was
        if session_id:
            flt.ids = [session_id]
        where, params = flt.where("x", self.dialect)
        return self._search(query, limit, raw, where, params, per_session)

    def _search(self, query: str, limit: int, raw: bool, where: list[str], params: list,
                per_session: int) -> list[Hit]:
        raise NotImplementedError

    @staticmethod
    def _cap_per_session(ranked, limit: int, per_session: int) -> list[int]:
        """Line ids of (line id, session id) pairs, best first, at most
        ``per_session`` of any one session and ``limit`` in all."""
        seen: dict[str, int] = {}
        chosen = []
        for rowid, sid in ranked:
            if seen.get(sid, 0) < per_session:
                seen[sid] = seen.get(sid, 0) + 1
                chosen.append(rowid)
                if len(chosen) == limit:
                    break
        return chosen

    @staticmethod
    def _hits(rows) -> list[Hit]:
        return [Hit(sid, gen, split_line_id(rowid)[1], lineno, ts, typ, role, snip or "", title, project)
                for sid, gen, rowid, lineno, ts, typ, role, snip, title, project in rows]
