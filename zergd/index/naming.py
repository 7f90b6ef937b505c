"""What a transcript's path says about it: its session id, project folder,
parent session and agent id.  Pure (no I/O): the index and whatever feeds it
both name sessions this one way.

Claude Code layouts (see DESIGN.md, Sources):
  <project>/<session>.jsonl                        main session
  <project>/agent-<id>.jsonl                       subagent, CC 2.0.x ("legacy")
  <project>/<session>/subagents/agent-<id>.jsonl   subagent, CC >= 2.1.2
Codex CLI:
  YYYY/MM/DD/rollout-<local time>-<uuid>.jsonl
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

UUID_TAIL = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(frozen=True)
class SourceInfo:
    """What the path alone tells about a transcript file."""

    provider: str
    rel: str  # POSIX path relative to the provider's root, e.g. "proj/uuid.jsonl"
    session_id: str  # see ``session_id_for``; qualified further only for a copied file
    project_dir: str | None
    parent_session_id: str | None  # known from the path for the 2.1.2+ layout
    agent_id: str | None


def describe(provider: str, rel: str) -> SourceInfo:
    parts = PurePosixPath(rel).parts
    stem = PurePosixPath(rel).stem
    if provider == "codex":
        return SourceInfo(provider, rel, session_id_for(provider, rel), None, None, None)
    project = parts[0] if len(parts) > 1 else None
    agent = stem[len("agent-") :] if stem.startswith("agent-") else None
    parent = None
    if agent and len(parts) >= 4 and parts[-2] == "subagents":
        parent = parts[-3]
    return SourceInfo(provider, rel, session_id_for(provider, rel), project, parent, agent)


def path_digest(provider: str, rel: str) -> str:
    return hashlib.sha1(f"{provider}/{rel}".encode()).hexdigest()[:8]


def session_id_for(provider: str, rel: str) -> str:
    """A session's id, a function of its source alone: the same after a
    reindex, in any import order and on any machine.  Main sessions and Codex
    rollouts carry a UUID; a subagent's id (``agent-<short id>``) is unique
    only within its parent session, so it is qualified by a digest of its path."""
    stem = PurePosixPath(rel).stem
    if provider == "codex":
        m = UUID_TAIL.search(stem)
        return m.group(1) if m else stem
    if stem.startswith("agent-"):
        return f"{stem}-{path_digest(provider, rel)}"
    return stem


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
