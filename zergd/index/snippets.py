"""A hit's snippet, cut from its text around the query's words.

FTS5's snippet() tokenizes a hit's whole text again, and a hit can be a
500 KB tool output: most of a search's time went there.  This finds the
words with one compiled regex (C speed), matching them the way the index
does: whole words, any case, accents ignored ("yalcin" finds "Yalçın"), a
trailing * for a prefix.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter

from .parse import SUBSTRING_CLASS

HIGHLIGHT = ("\x02", "\x03")
WIDTH = 140  # characters of context, about FTS5's 16 tokens
MAX_MATCHES = 400
PER_TERM = 60  # occurrences of one word looked at: enough to place the window
OPERATORS = {"AND", "OR", "NOT", "NEAR"}
_WORD = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).lower()


@functools.lru_cache(maxsize=1)
def _variants() -> dict[str, str]:
    """Each ASCII letter and the accented letters that fold to it."""
    out: dict[str, list[str]] = {}
    for cp in range(0xC0, 0x250):
        ch = chr(cp)
        base = _fold(ch)
        if len(base) == 1 and base.isascii() and base.isalpha() and ch.lower() == ch:
            out.setdefault(base, []).append(ch)
    return {k: "".join(v) for k, v in out.items()}


def _term_pattern(word: str, prefix: bool) -> str:
    variants = _variants()
    body = "".join(f"[{re.escape(c)}{variants[c]}]" if c in variants else re.escape(c) for c in _fold(word))
    return rf"(?<![^\W_]){body}" + (r"[^\W_]*" if prefix else r"(?![^\W_])")


@functools.lru_cache(maxsize=256)
def _terms(query: str, raw: bool) -> tuple[tuple[str, bool], ...]:
    """(folded word, is a prefix) of each word of the query."""
    terms = []
    for token in re.findall(r'"[^"]*"|[^\s"()]+', query):
        prefix = token.endswith("*") and not token.startswith('"')
        words = _WORD.findall(token.strip('"').rstrip("*"))
        if raw and token in OPERATORS:
            continue
        words = [w for w in words if not re.fullmatch(SUBSTRING_CLASS + "+", w)]
        terms += [(_fold(w), prefix and i == len(words) - 1) for i, w in enumerate(words)]
    return tuple(dict.fromkeys(terms))


@functools.lru_cache(maxsize=256)
def _accent_pattern(terms: tuple[tuple[str, bool], ...]) -> re.Pattern:
    return re.compile("|".join(_term_pattern(w, p) for w, p in terms), re.IGNORECASE)


def _find(text: str, terms) -> list[tuple[int, int, str]]:
    """(start, end, word) of whole-word occurrences, at most MAX_MATCHES.
    The word as typed, Capitalised and UPPER first: str.find over the text
    as it is, at C speed (lowercasing a long text costs more than the rest
    of a search).  Then the lowercased text, then a regex that ignores
    accents, each only when the one before found nothing."""
    found = _scan(text, text, terms, lambda w: dict.fromkeys((w, w.capitalize(), w.upper())))
    if not found:
        low = text.lower()
        if len(low) == len(text):  # else a character's lowercase is longer and offsets would drift
            found = _scan(text, low, terms, lambda w: {w})
    if not found and not text.isascii():
        for m in _accent_pattern(terms).finditer(text):
            found.append((m.start(), m.end(), _fold(m.group())))
            if len(found) >= MAX_MATCHES:
                break
    return sorted(found)


def _scan(text: str, haystack: str, terms, spellings) -> list[tuple[int, int, str]]:
    """Each term's whole-word occurrences (up to PER_TERM) in its first
    spelling that has any: each str.find over a long text costs."""
    found: list[tuple[int, int, str]] = []
    n = len(haystack)
    for word, prefix in terms:
        for spelled in spellings(word):
            hits = 0
            pos = haystack.find(spelled)
            while pos >= 0 and hits < PER_TERM:
                end = pos + len(spelled)
                if (pos == 0 or not haystack[pos - 1].isalnum()) and (prefix or end == n or not haystack[end].isalnum()):
                    if prefix:
                        while end < n and haystack[end].isalnum():
                            end += 1
                    found.append((pos, end, word))
                    hits += 1
                pos = haystack.find(spelled, pos + 1)
            if hits:
                break
    return found


def word_snippet(text: str, query: str, raw: bool = False) -> str:
    """About WIDTH characters of ``text`` where most of the query's words are,
    each occurrence wrapped in HIGHLIGHT markers; "…" where it was cut."""
    terms = _terms(query, raw)
    matches = _find(text, terms) if terms else []
    if not matches:
        return _cut(text, 0, min(len(text), WIDTH), [])
    # The window holding the most distinct words wins; the earliest of equals.
    best, best_score, j, counts = 0, -1, 0, Counter()
    for i, (start, _end, _word) in enumerate(matches):
        while j < len(matches) and matches[j][0] < start + WIDTH:
            counts[matches[j][2]] += 1
            j += 1
        if len(counts) > best_score:
            best, best_score = i, len(counts)
        counts[matches[i][2]] -= 1
        if not counts[matches[i][2]]:
            del counts[matches[i][2]]
    start = matches[best][0]
    # A little context before the first word, at a word boundary.
    lead = max(0, start - WIDTH // 4)
    if lead:  # not in the middle of a word
        space = text.find(" ", lead, start)
        lead = space + 1 if space >= 0 else lead
    end = min(len(text), lead + WIDTH)
    space = text.find(" ", end)
    end = space if 0 < space < end + 20 else end
    marks, last = [], -1
    for s, e, _w in matches:
        if s >= lead and e <= end and s >= last:
            marks.append((s, e))
            last = e
    return _cut(text, lead, end, marks)


def _cut(text: str, start: int, end: int, marks: list[tuple[int, int]]) -> str:
    out, pos = [], start
    for s, e in marks:
        out += [text[pos:s], HIGHLIGHT[0], text[s:e], HIGHLIGHT[1]]
        pos = e
    out.append(text[pos:end])
    piece = " ".join("".join(out).split())  # newlines and runs of spaces read as one space
    return ("…" if start > 0 else "") + piece + ("…" if end < len(text) else "")
