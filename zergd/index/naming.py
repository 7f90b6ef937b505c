"""Names the index gives what a path says.  What a path means is its
agent's (``zergd.transcript``: ``describe``); this module spells paths as
text the index can hold."""

from __future__ import annotations

import os

from ..transcript import describe


def session_id_for(provider: str, rel: str) -> str:
    """A session's id, a function of its source alone (an SQL function in
    migrations, which re-derive the ids of old indexes)."""
    return describe(provider, rel).session_id


def text_rel(rel: str) -> str:
    """A relative path as text the index can hold.  A name that is not valid
    UTF-8 (os.walk gives it with surrogate escapes, which SQLite refuses) is
    spelled with backslash escapes, here and in the archive's file name."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        try:
            return os.fsencode(rel).decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # surrogates that did not come from a file name
            return rel.encode("utf-8", "backslashreplace").decode("utf-8")
