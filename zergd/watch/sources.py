"""Which files are transcripts, and what their paths say about them.

Claude Code layouts (see DESIGN.md, Sources):
  <project>/<session>.jsonl                        main session
  <project>/agent-<id>.jsonl                       subagent, CC 2.0.x ("legacy")
  <project>/<session>/subagents/agent-<id>.jsonl   subagent, CC >= 2.1.2
Codex CLI:
  YYYY/MM/DD/rollout-<local time>-<uuid>.jsonl
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import SourceRoot

UUID_TAIL = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(frozen=True)
class SourceInfo:
    """What the path alone tells about a transcript file."""

    provider: str
    rel: str  # POSIX path relative to the provider's root, e.g. "proj/uuid.jsonl"
    session_id: str  # preferred id; the index may qualify it if already taken
    project_dir: str | None
    parent_session_id: str | None  # known from the path for the 2.1.2+ layout
    agent_id: str | None


def describe(provider: str, rel: str) -> SourceInfo:
    parts = PurePosixPath(rel).parts
    stem = PurePosixPath(rel).stem
    if provider == "codex":
        m = UUID_TAIL.search(stem)
        return SourceInfo(provider, rel, m.group(1) if m else stem, None, None, None)
    project = parts[0] if len(parts) > 1 else None
    agent = stem[len("agent-") :] if stem.startswith("agent-") else None
    parent = None
    if agent and len(parts) >= 4 and parts[-2] == "subagents":
        parent = parts[-3]
    return SourceInfo(provider, rel, stem, project, parent, agent)


def is_transcript(name: str) -> bool:
    return name.endswith(".jsonl")


def walk_root(root: SourceRoot, want=is_transcript):
    """Yield (abs path, rel) for every file under ``root`` whose name ``want``s,
    sorted so that backfills and reindexes meet files in the same order."""
    base = root.path
    if not base.is_dir():
        return
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in filenames:
            if want(name):
                path = Path(dirpath, name)
                found.append((path.relative_to(base).as_posix(), path))
    for rel, path in sorted(found):
        yield path, rel


def rel_for(roots: list[SourceRoot], path: Path) -> tuple[SourceRoot, str] | None:
    """The root a path lives under and its path relative to it, or None."""
    path = Path(os.path.abspath(path))
    for root in roots:
        try:
            return root, path.relative_to(os.path.abspath(root.path)).as_posix()
        except ValueError:
            continue
    return None
