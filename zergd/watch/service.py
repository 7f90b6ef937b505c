"""The live archive: one writer thread that owns the index, fed by a
watchfiles thread and a periodic rescan.

- At start the writer reconciles the archive with the index and backfills
  whatever changed while the daemon was down.
- watchfiles reports changed paths within ~50 ms; each is synced (archive
  append + fsync, then one commit) and its session change published.
- Every ``rescan_interval`` seconds a rescan (one stat per file) catches
  missed events; roots that appear later are noticed within seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import watchfiles

from ..config import Settings
from ..events import SESSION_CREATED, SESSION_SOURCE_DELETED, SESSION_UPDATED, EventBus
from ..index.db import connect
from ..index.writer import Writer
from .backfill import backfill
from .sources import describe, is_transcript, rel_for
from .sidecars import is_sidecar, sync_sidecar
from .tailer import ArchiveDamaged, sync_source

log = logging.getLogger("zergd.watch")

EVENT_TYPES = {"created": SESSION_CREATED, "updated": SESSION_UPDATED, "source_deleted": SESSION_SOURCE_DELETED}
COUNT_FIELDS = ("title", "project", "last_ts", "lines", "user_messages", "assistant_messages", "tool_calls",
                "is_subagent", "parent_session_id", "source_deleted_at")


# A root that appears later (a ~/.claude created after start) is noticed within this.
ROOT_CHECK_SECONDS = 2.0


class ArchiveService:
    def __init__(self, settings: Settings, bus: EventBus | None = None, *, rescan_interval: float = 120.0):
        self.settings = settings
        self.bus = bus or EventBus()
        self.rescan_interval = rescan_interval
        self.state = "starting"
        self.started_at = time.time()
        self.last_rescan: float | None = None
        self.error: str | None = None
        self._pending: dict[Path, None] = {}  # ordered set of paths to sync
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._watch_stop = threading.Event()
        self._watched: tuple[Path, ...] = ()
        self._threads: list[threading.Thread] = []
        self.ready = threading.Event()  # set once the start-up backfill is done

    # --- lifecycle -----------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._write_loop, "zergd-writer"), (self._watch_loop, "zergd-watch")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 30.0) -> None:
        """Let the current transaction finish, then stop both threads."""
        self._stop.set()
        self._watch_stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(timeout)

    @property
    def backlog(self) -> int:
        with self._cond:
            return len(self._pending)

    def request(self, path: Path) -> None:
        with self._cond:
            self._pending[path] = None
            self._cond.notify()

    # --- writer thread ---------------------------------------------------------

    def _write_loop(self) -> None:
        db = connect(self.settings.index_path, self.settings.archive_dir)
        writer = Writer(db)
        try:
            self.state = "backfilling"
            self._rescan(writer)
            self.state = "watching"
            self.ready.set()
            release_free_memory()  # the backfill's parse buffers are garbage now
            while not self._stop.is_set():
                path = self._next_path()
                if path is not None:
                    self._sync_path(writer, path)
                elif self._roots_changed() or time.time() - (self.last_rescan or 0) >= self.rescan_interval:
                    self._rescan(writer)
        except Exception as e:  # pragma: no cover - logged and surfaced in status
            log.exception("writer stopped")
            self.error = f"{type(e).__name__}: {e}"
            self.state = "failed"
        finally:
            self.ready.set()
            db.close()

    def _next_path(self) -> Path | None:
        """The next path to sync, or None when it is time to look at the roots."""
        deadline = min((self.last_rescan or 0) + self.rescan_interval, time.time() + ROOT_CHECK_SECONDS)
        with self._cond:
            while not self._pending and not self._stop.is_set():
                remaining = deadline - time.time()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._stop.is_set() or not self._pending:
                return None
            path = next(iter(self._pending))
            del self._pending[path]
            return path

    def _existing_roots(self) -> tuple[Path, ...]:
        return tuple(r.path for r in self.settings.source_roots() if r.path.is_dir())

    def _roots_changed(self) -> bool:
        return self._existing_roots() != self._watched

    def _rescan(self, writer: Writer) -> None:
        report = backfill(self.settings, writer, reconcile=self.last_rescan is None, should_stop=self._stop.is_set)
        for path, why in report.errors:
            log.warning("skipped %s: %s", path, why)
        if report.changed or report.deleted:
            log.info("rescan: %d files changed, %d bytes, %d sources gone", report.changed, report.bytes,
                     len(report.deleted))
        self._publish(writer)
        self.last_rescan = time.time()
        if self._roots_changed():
            self._watch_stop.set()  # the watch thread restarts on the new set of roots

    def _sync_path(self, writer: Writer, path: Path) -> None:
        found = rel_for(self.settings.source_roots(), path)
        if found is None or not (is_transcript(path.name) or is_sidecar(path.name)):
            return
        root, rel = found
        try:
            if is_sidecar(path.name):
                if path.is_file():
                    sync_sidecar(writer, self.settings.archive_dir, self.settings.host, root.provider, rel, path)
            elif path.is_file():
                source = writer.open_source(self.settings.host, describe(root.provider, rel), str(path))
                sync_source(writer, self.settings.archive_dir, source, path)
            else:
                row = writer.conn.execute(
                    "select x.id from sources s join sessions x on x.source_id = s.id"
                    " where s.host = ? and s.provider = ? and s.rel = ? and x.source_deleted_at is null",
                    (self.settings.host, root.provider, rel),
                ).fetchone()
                if row:
                    writer.mark_deleted(row[0])
        except (OSError, ArchiveDamaged) as e:
            log.warning("could not sync %s: %s", path, e)
        self._publish(writer)

    def _publish(self, writer: Writer) -> None:
        changes = writer.drain_changes()
        if not changes:
            return
        for session_id, kind in changes.items():
            row = writer.conn.execute(
                f"select {', '.join(COUNT_FIELDS)} from sessions where id = ?", (session_id,)
            ).fetchone()
            if row:
                self.bus.publish({"type": EVENT_TYPES[kind], "session": {"id": session_id, **dict(zip(COUNT_FIELDS, row))}})

    # --- watch thread ----------------------------------------------------------

    def _watch_loop(self) -> None:
        while not self._stop.is_set():
            roots = self._existing_roots()
            self._watched = roots
            self._watch_stop.clear()
            if not roots:
                self._watch_stop.wait(1.0)
                continue
            try:
                # watchfiles polls for events and the stop flag every ``step`` ms:
                # 25 ms keeps append->searchable well under 100 ms at ~0 idle CPU.
                for changes in watchfiles.watch(
                    *roots, watch_filter=_only_transcripts, debounce=200, step=25, rust_timeout=0,
                    stop_event=self._watch_stop, raise_interrupt=False,
                ):
                    for _change, name in changes:
                        self.request(Path(name))
            except Exception as e:  # a root vanished under the watcher: re-watch
                log.info("watcher restarting: %s", e)
                self._stop.wait(0.5)


def release_free_memory() -> None:
    """Hand memory freed after a big backfill back to the OS (glibc keeps it
    otherwise, and idle RSS is what people see in their process list)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _only_transcripts(_change, path: str) -> bool:
    return path.endswith((".jsonl", ".meta.json"))
