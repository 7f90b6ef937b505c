"""Files the archive cannot take right now, and why.

A fault in one file never stops the others: the file is set aside here with
its error, and retried - soon, with growing back-off, when the cause passes
by itself (disk full, index locked, a file rewritten while read), or on the
next rescan otherwise.  Everything here is shown by `zergd status`,
``/api/status`` and the Timeline's banner, so status never says all is well
while something is not.
"""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import asdict, dataclass

from ..errors import IndexUnavailable
from ..index.naming import text_rel
from .sources import Skipped
from .tailer import SourceUnstable

SKIPPED, WAITING, ERROR = "skipped", "waiting", "error"
TRANSIENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ENOMEM}
MAX_BACKOFF = 60.0
INDEX = "index"  # the path under which faults of the index itself are kept


@dataclass
class Fault:
    path: str  # a file, a folder, or "index" for the index itself
    kind: str  # SKIPPED (deliberately not read), WAITING (retried soon), ERROR (retried on rescan)
    reason: str
    since: float
    attempts: int = 1
    retry_at: float | None = None


def classify(exc: BaseException) -> tuple[str, str]:
    """(kind, one-line reason) for an exception met while syncing a file."""
    if isinstance(exc, Skipped):
        return SKIPPED, str(exc)
    if isinstance(exc, IndexUnavailable):
        return (WAITING, str(exc)) if exc.transient else (ERROR, str(exc))
    if isinstance(exc, SourceUnstable):
        return WAITING, str(exc)
    if isinstance(exc, OSError):
        why = exc.strerror or str(exc)
        if exc.errno == errno.ENOSPC:
            why = "disk full (nothing is lost: archiving resumes when space is free)"
        return (WAITING if exc.errno in TRANSIENT_ERRNOS else ERROR), why
    return ERROR, f"{type(exc).__name__}: {exc}"


def is_transient(exc: BaseException) -> bool:
    return classify(exc)[0] == WAITING


class Faults:
    """Thread-safe: the writer records, the API reads."""

    def __init__(self, on_change=None):
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self.on_change = on_change
        self._touched: set[str] | None = None  # paths recorded or cleared during a full pass

    def record(self, path: str, exc: BaseException, now: float | None = None) -> Fault:
        kind, reason = classify(exc)
        return self.note(path, kind, reason, now)

    def note(self, path: str, kind: str, reason: str, now: float | None = None) -> Fault:
        now = time.time() if now is None else now
        with self._lock:
            if self._touched is not None:
                self._touched.add(path)
            old = self._faults.get(path)
            attempts = old.attempts + 1 if old and old.kind == kind else 1
            retry_at = now + min(MAX_BACKOFF, 2.0 ** (attempts - 1)) if kind == WAITING else None
            fault = Fault(path, kind, reason, old.since if old else now, attempts, retry_at)
            self._faults[path] = fault
            changed = old is None or (old.kind, old.reason) != (kind, reason)
        if changed and self.on_change:
            self.on_change()
        return fault

    def clear(self, path: str) -> None:
        with self._lock:
            if self._touched is not None:
                self._touched.add(path)
            gone = self._faults.pop(path, None)
        if gone and self.on_change:
            self.on_change()

    def begin_pass(self) -> None:
        with self._lock:
            self._touched = set()

    def end_pass(self, complete: bool) -> None:
        """After a full pass over the roots, forget faults it did not meet
        again: the file was deleted, or the folder became readable."""
        with self._lock:
            touched, self._touched = self._touched, None
            stale = [p for p in self._faults if complete and touched is not None and p not in touched and p != INDEX]
            for p in stale:
                del self._faults[p]
        if stale and self.on_change:
            self.on_change()

    def postpone(self, path: str, now: float | None = None) -> None:
        """Push a retry back while it runs (its outcome records or clears the fault)."""
        now = time.time() if now is None else now
        with self._lock:
            fault = self._faults.get(path)
            if fault is not None and fault.retry_at is not None:
                fault.retry_at = now + min(MAX_BACKOFF, 2.0 ** (fault.attempts - 1))

    def due(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        with self._lock:
            return [p for p, f in self._faults.items()
                    if f.retry_at is not None and f.retry_at <= now and p != INDEX]

    def next_retry(self) -> float | None:
        with self._lock:
            times = [f.retry_at for p, f in self._faults.items() if f.retry_at is not None and p != INDEX]
        return min(times) if times else None

    def __contains__(self, path: str) -> bool:
        with self._lock:
            return path in self._faults

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)

    def snapshot(self) -> list[dict]:
        """The faults as JSON-ready dicts (names that are not UTF-8 escaped)."""
        with self._lock:
            faults = [asdict(f) for f in sorted(self._faults.values(), key=lambda f: f.path)]
        for f in faults:
            f["path"], f["reason"] = text_rel(f["path"]), text_rel(f["reason"])
        return faults
