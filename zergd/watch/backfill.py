"""One pass over every source root: archive and index what is new, mark
sources that disappeared.  ``zergd import`` runs it once; the daemon runs it
at start and as its periodic rescan."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..archive import archive_rel
from ..archivist import Archivist
from ..archivist.tails import index_quiet_tails
from ..config import Settings
from ..errors import ArchiveDamaged
from ..index.writer import Writer
from ..transcript import describe
from .faults import ERROR, INDEX, Faults, IndexUnavailable
from .compressed import is_compressed
from .sidecars import is_session_file, sync_session_file
from .sources import Skipped, walk_root
from .tailer import SourceUnstable, sync_file

log = logging.getLogger("zergd.watch")


@dataclass
class BackfillReport:
    files: int = 0
    changed: int = 0
    bytes: int = 0
    deleted: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    faults: Faults = field(default_factory=Faults)


@dataclass
class Todo:
    provider: str
    rel: str
    path: Path
    pending: int  # bytes not yet archived
    full_check: bool  # prove the archived prefix unchanged (a rescan)


def plan(settings: Settings, writer: Writer, faults: Faults | None = None) -> tuple[list[Todo], set]:
    """Transcripts on disk that changed since last read (or were only read by
    the live path since the last full check), and the set of all (provider,
    rel) seen.  Unchanged files cost one stat: this runs as the daemon's
    periodic rescan.  Folders and files that cannot be looked at go to ``faults``."""
    known = writer.known_files(settings.host)
    todo, seen = [], set()

    def note(path, why):
        if faults is not None:
            faults.note(str(path), ERROR, why)

    for root in settings.source_roots():
        for path, rel in walk_root(root, on_error=note):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            except OSError as e:  # a symlink loop, a folder we may not enter
                if faults is not None:
                    faults.record(str(path), e)
                continue
            key = (root.provider, rel)
            seen.add(key)
            identity, checked = known.get(key, (None, None))
            if checked == st.st_mtime_ns and identity is not None and (
                    identity[1:] == (st.st_ino, st.st_mtime_ns) if is_compressed(path.name)
                    else identity == (st.st_size, st.st_ino, st.st_mtime_ns)):
                continue
            archived = identity[0] if identity else 0
            todo.append(Todo(root.provider, rel, path, max(0, st.st_size - archived), identity is not None))
    return todo, seen


def reconcile_all(settings: Settings, writer: Writer, faults: Faults) -> int:
    """After a crash: adopt archived bytes the index never recorded, for every
    source (also those whose file is gone).  Two stats per source."""
    adopted = 0
    for host, provider, rel, path, gen, archive, archived in writer.newest_generations():
        apath = settings.archive_dir / archive
        grown = apath.exists() and apath.stat().st_size > archived
        if grown or (settings.archive_dir / archive_rel(host, provider, rel, gen + 1)).exists():
            source = writer.open_source(host, describe(provider, rel), path)
            try:
                Archivist(writer, settings.archive_dir, source).reconcile()
            except (OSError, ArchiveDamaged) as e:
                faults.record(str(apath), e)
                continue
            adopted += 1
    return adopted


# Commit at least this often during a backfill: fewer, larger transactions
# are what makes import keep pace with the baseline (bench/bench_import.py).
GROUP_BYTES = 16 << 20

# Errors from reading one file between writer calls: each writer call leaves
# index and archive consistent, so the group's transaction goes on without a
# savepoint (which would make FTS5 flush its index per file).
FILE_ERRORS = (OSError, ArchiveDamaged, Skipped, SourceUnstable)


def backfill(settings: Settings, writer: Writer, on_bytes=None, on_file=None, *, reconcile=True,
             should_stop=lambda: False, faults: Faults | None = None, on_plan=None) -> BackfillReport:
    """``reconcile=False`` for periodic rescans: changed files reconcile
    themselves; the full pass is for start-up after a possible crash.
    ``should_stop`` is asked between files: a stopping daemon commits what it
    has and leaves the rest (and the marking of missing sources) for next time.
    Raises IndexUnavailable when the index cannot take writes."""
    report = BackfillReport(faults=faults if faults is not None else Faults())
    faults = report.faults
    faults.begin_pass()
    try:
        if reconcile:
            reconcile_all(settings, writer, faults)
        todo, seen = plan(settings, writer, faults)
        report.files = len(seen)
        if on_plan:
            on_plan(todo)
        _sync_all(settings, writer, todo, report, on_bytes, on_file, should_stop)
        if not should_stop():
            report.deleted = mark_missing(settings, writer, seen)
            sync_sidecars(settings, writer, report)
            index_quiet_tails(writer, settings.archive_dir)
            if reconcile:  # start-up and `zergd import`: the tables may have grown a lot
                writer.optimize()
    except IndexUnavailable as e:
        faults.end_pass(complete=False)
        faults.record(INDEX, e)
        raise
    faults.end_pass(complete=not should_stop())
    faults.clear(INDEX)
    report.errors = [(f["path"], f["reason"]) for f in faults.snapshot()]
    return report


def _sync_all(settings, writer, todo, report, on_bytes, on_file, should_stop) -> None:
    faults = report.faults
    i = 0
    while i < len(todo) and not should_stop():
        group_start, grouped = i, 0
        try:
            with writer.transaction():
                while i < len(todo) and grouped < GROUP_BYTES and not should_stop():
                    item = todo[i]
                    i += 1
                    try:
                        copied = sync_file(writer, settings, item.provider, item.rel, item.path, on_bytes,
                                           full_check=item.full_check)
                    except FILE_ERRORS as e:
                        faults.record(str(item.path), e)
                        continue
                    faults.clear(str(item.path))
                    grouped += copied
                    report.bytes += copied
                    report.changed += 1 if copied else 0
                    if on_file:
                        on_file(item.path)
        except IndexUnavailable:
            raise  # disk full or locked: the whole pass waits
        except Exception as e:
            # Anything else (a bug, a name the index cannot hold) may have left
            # part of a file's writes in the group: the group was rolled back;
            # redo it without that file (archived bytes are adopted, not re-copied).
            bad = todo[i - 1]
            faults.record(str(bad.path), e)
            todo = todo[:i - 1] + todo[i:]
            i = group_start


def sync_sidecars(settings: Settings, writer: Writer, report: BackfillReport) -> None:
    """Each session's own files (subagent sidecars, tool results), compared
    with their archived copy every pass."""
    for root in settings.source_roots():
        for path, rel in walk_root(root, want=is_session_file):
            try:
                sync_session_file(writer, settings, root.provider, rel, path)
            except (OSError, Skipped) as e:
                report.faults.record(str(path), e)
            else:
                report.faults.clear(str(path))


def mark_missing(settings: Settings, writer: Writer, seen: set[tuple[str, str]]) -> list[str]:
    """Sessions whose source file is gone (Claude Code's 30-day cleanup): the
    archive stays, the session is marked with the time we noticed."""
    gone = []
    for session_id, provider, rel in writer.present_sessions(settings.host):
        if (provider, rel) not in seen:
            writer.mark_deleted(session_id)
            log.info("source deleted: %s/%s (session %s, kept in the archive)", provider, rel, session_id)
            gone.append(session_id)
    return gone
