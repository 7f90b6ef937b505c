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
import os
import threading
import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path

from ..archivist.rebuild import rebuild_if_stale
from ..archivist.tails import QUIET_SECONDS, index_quiet_tails
from ..config import Settings
from ..errors import IndexUnavailable
from ..events import (SESSION_CREATED, SESSION_SOURCE_DELETED, SESSION_UPDATED, ArchiveGrew, EventBus, SessionChanged,
                      StatusChanged)
from ..index.store import Index, open_index
from ..index.writer import Writer
from .backfill import backfill
from .faults import INDEX, MAX_BACKOFF, Faults, is_transient
from .compressed import SUFFIX, compressed, is_compressed, plain
from .sidecars import is_session_file, sync_session_file
from .sources import is_transcript, rel_for
from .tailer import sync_file
from .watcher import Watcher, watch_targets

log = logging.getLogger("zergd.watch")

EVENT_TYPES = {"created": SESSION_CREATED, "updated": SESSION_UPDATED, "source_deleted": SESSION_SOURCE_DELETED}
# host and project_dir too: a team server shows each browser only the events of sessions it may see.
COUNT_FIELDS = ("host", "title", "project", "project_dir", "last_ts", "lines", "user_messages", "assistant_messages", "tool_calls",
                "is_subagent", "parent_session_id", "source_deleted_at")


# A root that appears later (a ~/.claude created after start) is noticed within this.
ROOT_CHECK_SECONDS = 2.0


class ArchiveService:
    def __init__(self, settings: Settings, bus: EventBus | None = None, *, rescan_interval: float = 120.0,
                 index: Index | None = None):
        self.settings = settings
        self.index = index or open_index(settings)
        self.bus = bus or EventBus()
        self.rescan_interval = rescan_interval
        self.state = "starting"
        self.started_at = time.time()
        self.last_rescan: float | None = None
        self.error: str | None = None
        self.faults = Faults(on_change=self.status_changed)
        self.progress: Progress | None = None  # the start-up backfill's, while it runs
        self._needs_reconcile = False
        self._pending: dict[Path, None] = {}  # ordered set of paths to sync
        self._jobs: deque[tuple[Future, object]] = deque()  # work for the writer from elsewhere (ingest)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._watch_stop = threading.Event()
        self._watched: tuple = ()  # the roots (config.SourceRoot) being watched
        self._targets: tuple[tuple[Path, ...], tuple[Path, ...]] = ((), ())
        self._undecodable = False  # see Watcher.undecodable
        self._rescan_now = False
        self._next_tail_check = 0.0
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
        with self._cond:
            jobs, self._jobs = list(self._jobs), deque()
        for future, _fn in jobs:
            future.cancel()

    def submit(self, fn) -> Future:
        """Run ``fn(writer)`` in the writer thread, the index's one writer;
        its result (or exception) arrives in the returned future.  Jobs run
        before the next file is synced."""
        future: Future = Future()
        with self._cond:
            if self._stop.is_set():
                future.cancel()
                return future
            self._jobs.append((future, fn))
            self._cond.notify()
        return future

    def _run_jobs(self, writer: Writer) -> None:
        while True:
            with self._cond:
                if not self._jobs:
                    return
                future, fn = self._jobs.popleft()
            if not future.set_running_or_notify_cancel():
                continue  # its caller gave up waiting
            try:
                future.set_result(fn(writer))
            except IndexUnavailable as e:
                future.set_exception(e)
                raise  # the writer loop backs off and reconciles, as for a sync
            except Exception as e:  # the job's own failure; the writer goes on
                future.set_exception(e)
            self._publish(writer)

    def status_changed(self) -> None:
        """Tell the browsers to look at /api/status again (files set aside or recovered)."""
        self.bus.publish(StatusChanged("faults"))

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
        """Never ends but on stop: whatever goes wrong is recorded in
        ``faults``, backed off from, and retried (a fault in one file is the
        file's, see faults.py; one in the index stops writes until it passes)."""
        failures = 0
        while not self._stop.is_set():
            try:
                self._serve(self.index.writer())
            except Exception as e:
                failures += 1
                delay = min(MAX_BACKOFF, 2.0 ** min(failures, 6))
                fault = self.faults.record(INDEX, e)
                self.error = fault.reason
                self.state = "waiting"
                log.error("writer paused: %s (retrying in %.0fs)", fault.reason, delay, exc_info=not is_transient(e))
                self._needs_reconcile = True  # a rolled-back group left archived bytes to adopt
                self.index.close_writer()  # the next writer() reconnects
                self._stop.wait(delay)
            else:
                failures = 0
        self.ready.set()
        self.index.close_writer()

    def _serve(self, writer: Writer) -> None:
        """Backfill, then sync what changes until asked to stop."""
        if self.last_rescan is None:
            self.state = "reindexing"
            if rebuild_if_stale(self.settings, self.index):
                writer = self.index.writer()
        if self._needs_reconcile or self.last_rescan is None:
            self.state = "backfilling"
            self._rescan(writer, reconcile=True)
            self._needs_reconcile = False
            if not self.ready.is_set():
                self.ready.set()
                release_free_memory()  # the backfill's parse buffers are garbage now
        self.state = "watching"
        self.error = None
        self.faults.clear(INDEX)
        while not self._stop.is_set():
            self._run_jobs(writer)
            path = self._next_path()
            if path is not None:
                self._sync_path(writer, path)
            elif self.faults.due():
                for due in self.faults.due():
                    self.faults.postpone(due)  # until this retry has run
                    self.request(Path(due))
            elif (self._rescan_now or self._roots_changed()
                  or time.time() - (self.last_rescan or 0) >= self.rescan_interval):
                self._rescan_now = False
                self._rescan(writer)
            if path is None and time.time() >= self._next_tail_check:
                self._next_tail_check = time.time() + QUIET_SECONDS / 3
                index_quiet_tails(writer, self.settings.archive_dir)
                self._publish(writer)

    def _next_path(self) -> Path | None:
        """The next path to sync, or None when it is time to look at the roots."""
        deadline = min((self.last_rescan or 0) + self.rescan_interval, time.time() + ROOT_CHECK_SECONDS,
                       self.faults.next_retry() or float("inf"))
        with self._cond:
            while not self._pending and not self._jobs and not self._stop.is_set() and not self._rescan_now:
                remaining = deadline - time.time()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            if self._stop.is_set() or not self._pending:
                return None
            path = next(iter(self._pending))
            del self._pending[path]
            return path

    def _existing_roots(self) -> tuple:
        # A root that is one file is there once its file is (then the watcher restarts to watch it).
        return tuple(r for r in self.settings.source_roots() if (r.scope.is_file() if r.only else r.path.is_dir()))

    def _roots_changed(self) -> bool:
        """A root appeared or vanished, or (only while some folder cannot be
        read, which needs a walk) the folders to watch changed."""
        if self._existing_roots() != self._watched:
            return True
        return bool(self._targets[1]) and watch_targets(self._watched, self._undecodable) != self._targets

    def _rescan(self, writer: Writer, *, reconcile: bool = False) -> None:
        progress = self.progress = Progress() if reconcile else None
        hooks = dict(on_plan=progress.plan, on_bytes=progress.add_bytes, on_file=progress.add_file) if progress else {}
        try:
            report = backfill(self.settings, writer, reconcile=reconcile, should_stop=self._stop.is_set,
                              faults=self.faults, **hooks)
        finally:
            self.progress = None
        if progress and progress.files_total:
            log.info("backfill done: %s", progress.describe())
        if report.changed or report.deleted:
            log.info("rescan: %d files changed, %d bytes, %d sources gone", report.changed, report.bytes,
                     len(report.deleted))
        self._publish(writer)
        self.last_rescan = time.time()
        if self._roots_changed():
            self._watch_stop.set()  # the watch thread restarts on the new set of folders

    def _sync_path(self, writer: Writer, path: Path) -> None:
        found = rel_for(self.settings.source_roots(), path)
        if found is None or not (is_transcript(found[1]) or is_session_file(found[1])):
            return
        root, rel = found
        if is_compressed(path.name):  # one stream with its plain file, which wins while it is there
            if os.path.lexists(plain(path)):
                return
            path, rel = plain(path), rel[: -len(SUFFIX)]
        try:
            if is_session_file(rel):
                if os.path.lexists(path):
                    sync_session_file(writer, self.settings, root.provider, rel, path)
            elif os.path.lexists(path):
                sync_file(writer, self.settings, root.provider, rel, path)
            elif os.path.lexists(compressed(path)):  # compressed, not deleted
                sync_file(writer, self.settings, root.provider, rel, compressed(path))
            else:
                self._mark_deleted(writer, root.provider, rel)
        except Exception as e:  # the file's fault, not the writer's: set aside and retried
            fault = self.faults.record(str(path), e)
            log.warning("could not sync %s: %s", path, fault.reason)
        else:
            self.faults.clear(str(path))
        self._publish(writer)

    def _mark_deleted(self, writer: Writer, provider: str, rel: str) -> None:
        session_id = writer.present_session_of(self.settings.host, provider, rel)
        if session_id:
            writer.mark_deleted(session_id)
            log.info("source deleted: %s/%s (session %s, kept in the archive)", provider, rel, session_id)

    def _publish(self, writer: Writer) -> None:
        grown = writer.drain_grown()
        if grown:  # the shipper listens
            self.bus.publish(ArchiveGrew(frozenset(grown)))
        changes = writer.drain_changes()
        if not changes:
            return
        for session_id, kind in changes.items():
            summary = writer.session_summary(session_id, COUNT_FIELDS)
            if summary:  # None: its registration was rolled back
                self.bus.publish(SessionChanged(EVENT_TYPES[kind], {"id": session_id, **summary}))

    # --- watch thread ----------------------------------------------------------

    def request_rescan(self) -> None:
        """Events may have been lost: rescan now rather than at the next interval."""
        with self._cond:
            self._rescan_now = True
            self._cond.notify()

    def _watch_loop(self) -> None:
        watcher = Watcher(self.request, self.request_rescan)
        while not self._stop.is_set():
            roots = self._existing_roots()
            self._watched = roots
            self._watch_stop.clear()
            if not roots:
                self._watch_stop.wait(1.0)
                continue
            self._undecodable = watcher.undecodable
            self._targets = watch_targets(roots, self._undecodable)
            watcher.run(self._targets, self._watch_stop)
            self._stop.wait(0.5)


class Progress:
    """How far the start-up backfill is (for status, the Timeline and the log)."""

    LOG_EVERY = 5.0

    def __init__(self):
        self.started = time.monotonic()
        self.files_total = self.files_done = self.bytes_total = self.bytes_done = 0
        self._logged = self.started

    def plan(self, todo) -> None:
        self.files_total = len(todo)
        self.bytes_total = sum(t.pending for t in todo)

    def add_bytes(self, n: int) -> None:
        self.bytes_done += n
        # Files that grow while they are read grow the total: done never passes it.
        self.bytes_total = max(self.bytes_total, self.bytes_done)
        now = time.monotonic()
        if now - self._logged >= self.LOG_EVERY:
            self._logged = now
            log.info("backfill: %s", self.describe())

    def add_file(self, _path) -> None:
        self.files_done += 1

    def as_dict(self) -> dict:
        elapsed = max(time.monotonic() - self.started, 1e-3)
        rate = self.bytes_done / elapsed
        left = max(self.bytes_total - self.bytes_done, 0)
        return {"files_done": self.files_done, "files_total": self.files_total, "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total, "bytes_per_s": round(rate),
                "eta_s": round(left / rate, 1) if rate > 0 else None}

    def describe(self) -> str:
        d = self.as_dict()
        eta = f", about {d['eta_s']:.0f}s left" if d["eta_s"] and d["bytes_done"] < d["bytes_total"] else ""
        return (f"{d['files_done']:,} of {d['files_total']:,} files, {d['bytes_done'] / 1e6:,.1f} of "
                f"{d['bytes_total'] / 1e6:,.1f} MB, {d['bytes_per_s'] / 1e6:.1f} MB/s{eta}")


def release_free_memory() -> None:
    """Hand memory freed after a big backfill back to the OS (glibc keeps it
    otherwise, and idle RSS is what people see in their process list)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
