"""The archive: append-only copies of every source file, the only precious
data zergd holds (the index can always be rebuilt from it).

Layout: ``ZERG_HOME/sessions/<host>/<provider>/<rel>`` for a source's first
generation, so the Claude part is itself a valid ``projects/`` tree;
``<rel>.gen<N>`` for generation N >= 2 (a source that shrank or was rewritten,
see I5 in ``zergd.invariants``).  Bytes are only ever appended, and fsync'd
before the index records them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from ..errors import UnsafePath

GEN_SUFFIX = re.compile(r"^(?P<rel>.+\.jsonl)(?:\.gen(?P<gen>[0-9]+))?$")
# The folder beside a session where the agent keeps large tool outputs
# (Claude Code: <project>/<session>/tool-results/<tool use id>.txt).  Files in
# it are the session's own files, kept whole (sidecars.py), never transcripts.
TOOL_RESULTS = "tool-results"


def check_rel(rel: str) -> str:
    p = PurePosixPath(rel)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts) or "\x00" in rel:
        raise UnsafePath(f"not a safe relative path: {rel!r}")
    return rel


def archive_rel(host: str, provider: str, rel: str, gen: int) -> str:
    """Path of one generation's file, relative to the archive folder."""
    check_rel(rel)
    name = rel if gen == 1 else f"{rel}.gen{gen}"
    return f"{host}/{provider}/{name}"


def parse_archive_rel(path: str) -> tuple[str, str, str, int] | None:
    """(host, provider, rel, gen) for an archive file, None for other files."""
    parts = PurePosixPath(path).parts
    if len(parts) < 3:
        return None
    m = GEN_SUFFIX.match("/".join(parts[2:]))
    if not m or (len(parts) > 3 and parts[-2] == TOOL_RESULTS):
        return None
    return parts[0], parts[1], m["rel"], int(m["gen"] or 1)


def append(path: Path, data: bytes) -> int:
    """Append ``data`` durably; return the file's new length."""
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
        size = f.tell()
    if created:
        _fsync_dir(path.parent)
    return size


def create_empty(path: Path) -> None:
    """An empty source still gets its (empty) archive file, so it exports."""
    if not path.exists():
        append(path, b"")


def read_range(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open folders
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
