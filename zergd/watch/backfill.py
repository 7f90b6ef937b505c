"""One pass over every source root: archive and index what is new, mark
sources that disappeared.  ``zergd import`` runs it once; the daemon runs it
at start and as its periodic rescan."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..index.writer import Writer
from .sources import describe, walk_root
from .tailer import sync_source


@dataclass
class BackfillReport:
    files: int = 0
    changed: int = 0
    bytes: int = 0
    deleted: list[str] = field(default_factory=list)


def plan(settings: Settings, writer: Writer) -> list[tuple[str, str, Path, int]]:
    """Every transcript on disk as (provider, rel, path, bytes not yet archived)."""
    archived = {
        (provider, rel): size
        for provider, rel, size in writer.conn.execute(
            "select s.provider, s.rel, g.archived from sources s join generations g on g.source_id = s.id"
            " where s.host = ? and g.gen = (select max(gen) from generations where source_id = s.id)",
            (settings.host,),
        )
    }
    todo = []
    for root in settings.source_roots():
        for path, rel in walk_root(root):
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                continue
            todo.append((root.provider, rel, path, max(0, size - archived.get((root.provider, rel), 0))))
    return todo


def backfill(settings: Settings, writer: Writer, on_bytes=None, on_file=None) -> BackfillReport:
    report = BackfillReport()
    seen = set()
    for provider, rel, path, _pending in plan(settings, writer):
        seen.add((provider, rel))
        source = writer.open_source(settings.host, describe(provider, rel), str(path))
        copied = sync_source(writer, settings.archive_dir, source, path, on_bytes)
        report.files += 1
        report.bytes += copied
        report.changed += 1 if copied else 0
        if on_file:
            on_file(path)
    report.deleted = mark_missing(settings, writer, seen)
    return report


def mark_missing(settings: Settings, writer: Writer, seen: set[tuple[str, str]]) -> list[str]:
    """Sessions whose source file is gone (Claude Code's 30-day cleanup): the
    archive stays, the session is marked with the time we noticed."""
    gone = []
    for session_id, provider, rel in writer.conn.execute(
        "select x.id, s.provider, s.rel from sources s join sessions x on x.source_id = s.id"
        " where s.host = ? and x.source_deleted_at is null",
        (settings.host,),
    ).fetchall():
        if (provider, rel) not in seen:
            writer.mark_deleted(session_id)
            gone.append(session_id)
    return gone
