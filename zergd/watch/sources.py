"""Which files are transcripts, and what their paths say about them.

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
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import SourceRoot

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


def is_transcript(name: str) -> bool:
    return name.endswith(".jsonl")


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


def walk_root(root: SourceRoot, want=is_transcript, on_error=None):
    """Yield (abs path, rel) for every file under ``root`` whose name ``want``s,
    sorted so that backfills and reindexes meet files in the same order.
    A folder that cannot be listed is passed to ``on_error(path, why)`` and
    the walk goes on with the others."""
    base = root.path
    if not base.is_dir():
        return

    def report(e: OSError):
        if on_error:
            on_error(e.filename or str(base), f"cannot list folder: {e.strerror or e}")

    found = []
    for dirpath, dirnames, filenames in os.walk(base, onerror=report):
        dirnames.sort()
        for name in filenames:
            if want(name):
                path = Path(dirpath, name)
                found.append((text_rel(path.relative_to(base).as_posix()), path))
    for rel, path in sorted(found):
        yield path, rel


def rel_for(roots: list[SourceRoot], path: Path) -> tuple[SourceRoot, str] | None:
    """The root a path lives under and its path relative to it, or None."""
    path = Path(os.path.abspath(path))
    for root in roots:
        try:
            return root, text_rel(path.relative_to(os.path.abspath(root.path)).as_posix())
        except ValueError:
            continue
    return None


class Skipped(Exception):
    """A path we deliberately do not read (not a regular file, or a link that
    leads out of the watched folders); the message says which."""


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def inside(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def open_transcript(path: Path, roots: list[SourceRoot]):
    """Open a transcript for reading, or raise ``Skipped``.

    Only regular files are read: a FIFO would block the reader forever and a
    link to /dev/zero would fill the disk.  A symlink is followed only when
    its target lies inside a watched root (roots may themselves be links), so
    a link to /etc/passwd is never archived or served.  O_NONBLOCK makes the
    open itself return at once on a FIFO swapped in after the check."""
    real = os.path.realpath(path)
    if not inside(real, [os.path.realpath(r.path) for r in roots]):
        raise Skipped(f"links to {real}, outside the watched folders")
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise Skipped(f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'special file')})")
    return os.fdopen(fd, "rb", buffering=0)
