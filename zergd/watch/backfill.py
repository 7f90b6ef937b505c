"""One pass over every source root: archive and index what is new, mark
sources that disappeared.  ``zergd import`` runs it once; the daemon runs it
at start and as its periodic rescan."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..archive import archive_rel
from ..config import Settings
from ..index.writer import Writer
from .sources import describe, walk_root
from .sidecars import is_sidecar, sync_sidecar
from .tailer import ArchiveDamaged, reconcile, sync_source


@dataclass
class BackfillReport:
    files: int = 0
    changed: int = 0
    bytes: int = 0
    deleted: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def plan(settings: Settings, writer: Writer) -> list[tuple[str, str, Path, int]]:
    """Transcripts on disk that changed since last read, as (provider, rel,
    path, bytes not yet archived), and the set of all (provider, rel) seen.
    Unchanged files cost one stat: this runs as the daemon's periodic rescan."""
    known = {
        (provider, rel): (archived, inode, mtime_ns)
        for provider, rel, archived, inode, mtime_ns in writer.conn.execute(
            "select s.provider, s.rel, g.archived, g.inode, g.mtime_ns from sources s"
            " join generations g on g.source_id = s.id"
            " where s.host = ? and g.gen = (select max(gen) from generations where source_id = s.id)",
            (settings.host,),
        )
    }
    todo, seen = [], set()
    for root in settings.source_roots():
        for path, rel in walk_root(root):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            key = (root.provider, rel)
            seen.add(key)
            archived = known.get(key)
            if archived == (st.st_size, st.st_ino, st.st_mtime_ns):
                continue
            todo.append((root.provider, rel, path, max(0, st.st_size - (archived[0] if archived else 0))))
    return todo, seen


def reconcile_all(settings: Settings, writer: Writer) -> int:
    """After a crash: adopt archived bytes the index never recorded, for every
    source (also those whose file is gone).  Two stats per source."""
    adopted = 0
    rows = writer.conn.execute(
        "select s.host, s.provider, s.rel, s.path, g.gen, g.archive, g.archived from sources s"
        " join generations g on g.source_id = s.id"
        " where g.gen = (select max(gen) from generations where source_id = s.id)"
    ).fetchall()
    for host, provider, rel, path, gen, archive, archived in rows:
        apath = settings.archive_dir / archive
        grown = apath.exists() and apath.stat().st_size > archived
        if grown or (settings.archive_dir / archive_rel(host, provider, rel, gen + 1)).exists():
            source = writer.open_source(host, describe(provider, rel), path)
            reconcile(writer, settings.archive_dir, source)
            adopted += 1
    return adopted


# Commit at least this often during a backfill: fewer, larger transactions
# are what makes import keep pace with the baseline (bench/bench_import.py).
GROUP_BYTES = 16 << 20


def backfill(settings: Settings, writer: Writer, on_bytes=None, on_file=None, *, reconcile=True,
             should_stop=lambda: False) -> BackfillReport:
    """``reconcile=False`` for periodic rescans: changed files reconcile
    themselves; the full pass is for start-up after a possible crash.
    ``should_stop`` is asked between files: a stopping daemon commits what it
    has and leaves the rest (and the marking of missing sources) for next time."""
    report = BackfillReport()
    if reconcile:
        reconcile_all(settings, writer)
    todo, seen = plan(settings, writer)
    report.files = len(seen)
    i = 0
    while i < len(todo) and not should_stop():
        grouped = 0
        with writer.transaction():
            while i < len(todo) and grouped < GROUP_BYTES and not should_stop():
                provider, rel, path, _pending = todo[i]
                i += 1
                try:
                    source = writer.open_source(settings.host, describe(provider, rel), str(path))
                    copied = sync_source(writer, settings.archive_dir, source, path, on_bytes)
                except (OSError, ArchiveDamaged) as e:
                    # One unreadable file never stops a backfill.  No rollback is
                    # needed (nor a savepoint, which would make FTS5 flush per file):
                    # these errors come from file I/O between writer calls, and each
                    # writer call leaves index and archive consistent.
                    report.errors.append((str(path), str(e)))
                    continue
                grouped += copied
                report.bytes += copied
                report.changed += 1 if copied else 0
                if on_file:
                    on_file(path)
    if not should_stop():
        report.deleted = mark_missing(settings, writer, seen)
        sync_sidecars(settings, writer, report)
    return report


def sync_sidecars(settings: Settings, writer: Writer, report: BackfillReport) -> None:
    """Subagent sidecars: a few hundred bytes each, compared with their archived copy every pass."""
    for root in settings.source_roots():
        for path, rel in walk_root(root, want=is_sidecar):
            try:
                sync_sidecar(writer, settings.archive_dir, settings.host, root.provider, rel, path)
            except OSError as e:
                report.errors.append((str(path), str(e)))


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
