"""The sending side: ship this machine's archive to another zergd.

The archive is the queue.  It is append-only and fsync'd before anything is
indexed, so what remains to ship is, per file, the bytes past the offset the
other side has acknowledged: no spool of copies, nothing to lose in a
restart.  The acknowledged offsets come from the other side (its answer to
every batch, and ``/api/ingest/state`` when a run starts), so shipping
resumes from what the server has, not from what was sent; a copy of them in
``ZERG_HOME/ship.db`` lets ``zergd status`` say how far behind we are while
the server cannot be reached.

When a run first resumes a file, its first and last 4 KiB already shipped
are sent again: the server acknowledges them if they are what it has, and
refuses them (a *conflict*, reported, never overwritten) if the two sides
hold different files under one name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import archive
from ..archive.sidecars import max_bytes
from ..config import Settings
from .protocol import MAX_ITEMS, Item, encode
from .remote import BodyTooLarge, Remote, ShipError

log = logging.getLogger("zergd.ship")

BATCH_BYTES = 8 << 20  # raw bytes per request: ~1.5 MB on the wire
CHECK = 4096  # bytes re-sent at each end of a file's shipped part when a run resumes it
# A session file's archived version: a subagent sidecar, or a tool result (sidecars.py).
SIDECAR_NAME = re.compile(r"^(?P<rel>(?:.*/)?(?:agent-[^/]*\.meta\.json|tool-results/[^/]+?))(?:\.gen(?P<gen>[0-9]+))?$")


@dataclass
class LocalFile:
    """One transcript of this machine's archive: its generations' sizes."""

    provider: str
    rel: str
    sizes: dict[int, int] = field(default_factory=dict)  # gen -> archived bytes


@dataclass
class Report:
    items: int = 0
    bytes: int = 0  # new bytes the other side took
    requests: int = 0
    conflicts: dict = field(default_factory=dict)


class Shipper:
    def __init__(self, settings: Settings, url: str, token: str, machine: str | None = None, *,
                 batch_bytes: int = BATCH_BYTES, index=None):
        self.settings = settings
        self.index = index  # this machine's index (for the CRCs it keeps); optional
        # Without --machine, the name the token ships as there (asked at the first sync).
        self.chosen_machine = machine
        self.machine = machine or settings.host
        self.epoch: str | None = None  # the other side's index's id: a new one means it was replaced
        self.remote = Remote(url, token)
        self.url = self.remote.url
        self.root = settings.archive_dir / settings.host  # only what this machine archived, never relayed
        self.batch_bytes = batch_bytes
        self.acked: dict[tuple[str, str], tuple[int, int]] = {}  # (provider, rel) -> (gen, offset) the server has
        self.sidecars_acked: dict[tuple[str, str], int] = {}
        # Where the next batch starts: acknowledged, plus what batches built but not yet answered hold.
        self.queued: dict[tuple[str, str], tuple[int, int]] = {}
        self.queued_sidecars: dict[tuple[str, str], int] = {}
        # When each source was found deleted (None: present), here and as the other side was told.
        self.local_marks: dict[tuple[str, str], str | None] = {}
        self.marks_acked: dict[tuple[str, str], str | None] = {}
        self.queued_marks: dict[tuple[str, str], str | None] = {}
        self.verified: set[tuple[str, str]] = set()  # files whose shipped ends were checked this run
        self.conflicts: dict[tuple[str, str], str] = {}
        self.synced = False  # the server's state was fetched in this run
        self.files: dict[tuple[str, str], LocalFile] = {}
        self.sidecars: dict[tuple[str, str], list[Path]] = {}
        self.in_flight = 0
        self.last_ok: float | None = None
        self.on_bytes = None  # called with the new bytes each batch delivered (a progress bar)
        self.store = AckStore(settings.home / "ship.db", self.url, self.machine)
        self.acked, self.sidecars_acked = self.store.load()

    def close(self) -> None:
        self.remote.close()
        self.store.close()

    # --- what this machine has ---------------------------------------------

    def _local_files(self) -> dict[tuple[str, str], tuple[int, int, int | None, str | None]]:
        """(provider, rel) -> (newest generation, archived, CRC-32, deleted at)
        from this machine's index: what the archive folder alone cannot say."""
        if self.index is None:
            return {}
        try:
            with self.index.reader() as r:
                return {(p, rel): (g, a, crc, deleted) for p, rel, g, a, crc, deleted
                        in r.machine_files(self.settings.host)}
        except Exception as e:  # no index yet, or busy: the ends re-sent on resume still catch most
            log.info("shipping without this machine's index (no CRCs, no deletion marks): %s", e)
            return {}

    def scan(self) -> None:
        """Every archived transcript generation and sidecar version of this machine."""
        files: dict[tuple[str, str], LocalFile] = {}
        sidecars: dict[tuple[str, str], dict[int, Path]] = {}
        if self.root.is_dir():
            for dirpath, _dirs, names in os.walk(self.root):
                for name in names:
                    path = Path(dirpath, name)
                    rel = path.relative_to(self.settings.archive_dir).as_posix()
                    self._note(files, sidecars, rel, path)
        self.files = files
        self.sidecars = {k: [v[g] for g in sorted(v)] for k, v in sidecars.items()}
        self.local_marks = {k: v[3] for k, v in self._local_files().items()}

    def note_grown(self, archive_rels) -> None:
        """Archive files the daemon just appended to (cheaper than a scan)."""
        for rel in archive_rels:
            self._note(self.files, None, rel, self.settings.archive_dir / rel)

    def _note(self, files, sidecars, rel: str, path: Path) -> None:
        parsed = archive.parse_archive_rel(rel)
        if parsed is not None:
            host, provider, source_rel, gen = parsed
            if host != self.settings.host:
                return
            try:
                size = path.stat().st_size
            except OSError:
                return
            files.setdefault((provider, source_rel), LocalFile(provider, source_rel)).sizes[gen] = size
            return
        parts = rel.split("/", 2)
        m = SIDECAR_NAME.match(parts[2]) if sidecars is not None and len(parts) == 3 and not rel.endswith(".tmp") \
            else None
        if m and parts[0] == self.settings.host:
            sidecars.setdefault((parts[1], m["rel"]), {})[int(m["gen"] or 1)] = path

    def behind(self) -> tuple[int, int]:
        """(files, bytes) not yet acknowledged by the other side."""
        files = total = 0
        # list(): status asks from another thread while the shipping thread adds files.
        for key, f in list(self.files.items()):
            if key in self.conflicts:
                continue
            gen, offset = self.acked.get(key, (0, 0))
            left = sum(size - (offset if g == gen else 0) for g, size in list(f.sizes.items()) if g >= gen)
            if left > 0 or key not in self.acked:
                files += 1
                total += max(left, 0)
        return files, total

    # --- shipping ----------------------------------------------------------

    def sync_state(self) -> None:
        """Learn what the other side has (it is the truth, whatever we sent).
        A file both sides hold to the same length is compared by the CRC-32
        each index keeps of it: a different file under the same name (two
        machines shipping as one) is a conflict, not silently "up to date"."""
        if self.chosen_machine is None:
            told = self.remote.whoami()
            if told and told != self.machine:
                self.machine = told
                self.store.close()
                self.store = AckStore(self.settings.home / "ship.db", self.url, self.machine)
        state = self.remote.state(self.machine)
        if self.epoch is not None and state.get("epoch") != self.epoch:
            log.warning("%s holds another archive than before (wiped, restored or rebuilt): shipping what it lacks",
                        self.url)
            self.conflicts.clear()
        self.epoch = state.get("epoch")
        self.acked = {(f["provider"], f["rel"]): (f["gen"], f["offset"]) for f in state.get("files", [])}
        self.marks_acked = {(f["provider"], f["rel"]): f.get("deleted_at") for f in state.get("files", [])}
        mine = self._local_files()
        for f in state.get("files", []):
            key = (f["provider"], f["rel"])
            local = mine.get(key)
            if local and f.get("crc") is not None and local[:2] == (f["gen"], f["offset"]) and local[2] is not None \
                    and local[2] != f["crc"]:
                self.conflicts[key] = "the other side holds a different file under this name (CRC-32 differs)"
        self.sidecars_acked = {(s["provider"], s["rel"]): s["version"] for s in state.get("sidecars", [])}
        self.store.save(self.acked, self.sidecars_acked, replace=True)
        self.verified.clear()
        self.synced = True

    def ship(self, *, only: set[tuple[str, str]] | None = None, should_stop=lambda: False) -> Report:
        """Send everything not acknowledged yet (or only ``only``'s files);
        returns when the other side has it all.  ShipUnavailable / ShipError
        leave it to the caller to retry; what was acknowledged stays so.

        The next batch is read, hashed and compressed while the other side
        works on the one before (two offsets per file: *queued*, up to which
        a batch was built, and *acknowledged*); it is sent only once that
        answer is in, and dropped if anything was refused."""
        report = Report()
        if not self.synced:
            self.sync_state()
        self.queued, self.queued_sidecars = dict(self.acked), dict(self.sidecars_acked)
        self.queued_marks = dict(self.marks_acked)
        stalled = 0
        in_flight = None  # (future answer, its batch)
        with ThreadPoolExecutor(1, thread_name_prefix="zergd-ship-send") as sender:
            while True:
                batch = [] if should_stop() else self._next_batch(only)
                body = encode(self.machine, [(it, data) for it, data, _fresh in batch]) if batch else b""
                if in_flight is not None:
                    clean, moved = self._settle(*in_flight, report)
                    in_flight = None
                    stalled = 0 if moved else stalled + 1
                    if not clean:  # built on offsets that did not hold: build again from what was acknowledged
                        self.verified -= {(it.provider, it.rel) for it, _d, _f in batch}
                        self.queued, self.queued_sidecars = dict(self.acked), dict(self.sidecars_acked)
                        self.queued_marks = dict(self.marks_acked)
                        if stalled >= 3:  # refused three times without anything moving: stop, say so
                            raise ShipError(f"{self.url} keeps refusing: "
                                            f"{next(iter(self.conflicts.values()), 'no progress')}")
                        continue
                if not batch:
                    break
                self.in_flight = sum(it.length for it, _d, fresh in batch if fresh)
                left = self.behind()[1] - self.in_flight
                in_flight = (sender.submit(self.remote.send, body, left), batch)
        report.conflicts = dict(self.conflicts)
        return report

    def _settle(self, answer, batch: list[tuple[Item, bytes, bool]], report: Report) -> tuple[bool, bool]:
        """Wait for one batch's answer and learn the acknowledged offsets from
        it.  (clean: every item was taken, so the batch built meanwhile still
        holds; moved: something was acknowledged or settled as a conflict)."""
        try:
            _status, answer = answer.result()
        except BodyTooLarge:
            if self.batch_bytes <= 64 << 10:
                raise ShipError(f"{self.url} refuses even {self.batch_bytes} bytes as too large") from None
            self.batch_bytes //= 2
            return False, True
        finally:
            self.in_flight = 0
        report.requests += 1
        if answer.get("epoch") and self.epoch and answer["epoch"] != self.epoch:
            self.sync_state()  # the other side was replaced meanwhile: what it has is all that counts
            return False, True
        results = answer.get("results", [])
        clean = len(results) == len(batch)
        moved = False
        touched = set()
        for (item, _data, _fresh), result in zip(batch, results):
            key = (item.provider, item.rel)
            touched.add(key)
            clean &= bool(result["ok"])
            if result.get("reason") == "conflict":
                moved |= key not in self.conflicts
                self.conflicts[key] = result.get("error", "bytes differ")
                log.warning("not shipped: %s/%s: %s", *key, self.conflicts[key])
                continue
            if item.kind == "mark":
                taken = 0
                if result["ok"]:
                    moved |= self.marks_acked.get(key) != item.deleted_at
                    self.marks_acked[key] = item.deleted_at
            elif item.kind == "sidecar":
                taken = item.length if result["version"] > self.sidecars_acked.get(key, 0) else 0
                self.sidecars_acked[key] = result["version"]
                moved |= taken > 0
            else:
                before = self.acked.get(key) or (1, 0)
                have = (result["gen"], result["offset"])
                # A retry of a sealed generation answers that generation: an ok never steps back.
                self.acked[key] = max(have, before) if result["ok"] else have
                after = self.acked[key]
                taken = max(0, after[1] - (before[1] if after[0] == before[0] else 0))
                moved |= after != before  # taken, or corrected to what the other side has
            if result["ok"] and taken:
                report.items += 1
                report.bytes += taken
        self.store.save({k: self.acked[k] for k in touched if k in self.acked},
                        {k: self.sidecars_acked[k] for k in touched if k in self.sidecars_acked})
        if clean:
            self.last_ok = time.time()
        if self.on_bytes:
            self.on_bytes(sum(it.length for it, _d, fresh in batch if fresh))
        return clean, moved or clean

    def _next_batch(self, only) -> list[tuple[Item, bytes, bool]]:
        batch: list[tuple[Item, bytes, bool]] = []
        budget = self.batch_bytes
        if only is None:
            for key in sorted(self.sidecars):
                if key in self.conflicts:
                    continue
                for version, path in enumerate(self.sidecars[key], 1):
                    if version <= self.queued_sidecars.get(key, 0) or len(batch) >= MAX_ITEMS // 5:
                        continue
                    if batch and budget <= 0:  # a large tool result goes in a request of its own
                        break
                    try:
                        if path.stat().st_size > max_bytes(key[1]):
                            self.conflicts[key] = (f"{path.stat().st_size:,} bytes: more than a shipped file may "
                                                   f"hold ({max_bytes(key[1]):,}); kept here only")
                            break
                        data = path.read_bytes()
                    except OSError:
                        continue
                    batch.append((Item("sidecar", key[0], key[1], version, 0, len(data), _sha(data)), data, True))
                    self.queued_sidecars[key] = version
                    budget -= len(data)
        keys = sorted(self.files) if only is None else sorted(k for k in only if k in self.files)
        for key in keys:
            if budget <= 0 or len(batch) >= MAX_ITEMS // 5:
                break
            if key not in self.conflicts:
                budget = self._ranges(self.files[key], batch, budget)
        if only is None:
            self._marks(batch)
        return batch

    def _marks(self, batch: list) -> None:
        """Tell the other side which sources were deleted here (or came back),
        for files it has."""
        for key, deleted_at in sorted(self.local_marks.items()):
            if len(batch) >= MAX_ITEMS // 5:
                return
            told = self.queued_marks.get(key)
            if key in self.conflicts or key not in self.queued or bool(told) == bool(deleted_at):
                continue
            batch.append((Item("mark", key[0], key[1], 0, 0, 0, _sha(b""), deleted_at=deleted_at), b"", False))
            self.queued_marks[key] = deleted_at

    def _ranges(self, f: LocalFile, batch: list, budget: int) -> int:
        """Add to ``batch`` what the other side lacks of ``f``, at most
        ``budget`` bytes; return the budget left."""
        key = (f.provider, f.rel)
        acked = self.queued.get(key)  # what the other side will have once the batches built so far are in
        have_gen, have = acked or (1, 0)
        newest = max(f.sizes, default=0)
        if have_gen > newest or (have_gen == newest and have > f.sizes[newest]):
            self.conflicts[key] = (f"the other side has {have} bytes of generation {have_gen}; this machine's "
                                   f"archive has less (was {self.settings.archive_dir} replaced?)")
            return budget
        todo = []  # (gen, from offset, size) still to send
        for g in sorted(f.sizes):
            if g < have_gen:
                continue
            start = have if g == have_gen else 0
            # An empty file, or a new generation not started there yet, is sent as an empty range.
            if start < f.sizes[g] or (start == 0 and (acked is None or g > have_gen)):
                todo.append((g, start, f.sizes[g]))
        if not todo:
            return budget
        if acked and have > 0 and key not in self.verified:
            # Resuming this file: re-send the shipped part's ends; the other side checks they are what it has.
            apath = self._archive_file(f, have_gen)
            for lo, hi in sorted({(0, min(CHECK, have)), (max(0, have - CHECK), have)}):
                data = archive.read_range(apath, lo, hi - lo)
                batch.append((Item("range", f.provider, f.rel, have_gen, lo, len(data), _sha(data)), data, False))
            self.verified.add(key)
        for g, start, size in todo:
            length = min(size - start, max(budget, 0))
            if length <= 0 and size > start:
                return 0  # the batch is full; this file continues in the next one
            data = archive.read_range(self._archive_file(f, g), start, length)
            prev = f.sizes.get(g - 1) if start == 0 and g > 1 else None
            batch.append((Item("range", f.provider, f.rel, g, start, len(data), _sha(data), prev), data, True))
            self.queued[key] = (g, start + len(data))
            self.verified.add(key)  # what follows continues this stream: nothing to check again
            budget -= len(data)
            if start + len(data) < size:
                return budget  # the rest follows once this part is acknowledged
        return budget

    def _archive_file(self, f: LocalFile, gen: int) -> Path:
        return self.settings.archive_dir / archive.archive_rel(self.settings.host, f.provider, f.rel, gen)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AckStore:
    """The acknowledged offsets, kept across restarts (for status while the
    other side is unreachable; the other side's answer always wins)."""

    def __init__(self, path: Path, url: str, machine: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("pragma journal_mode = wal")
        self.conn.execute("create table if not exists acked (target text, provider text, rel text, gen integer,"
                          " offset integer, primary key (target, provider, rel))")
        self.conn.execute("create table if not exists sidecars (target text, provider text, rel text,"
                          " version integer, primary key (target, provider, rel))")
        self.target = f"{url}#{machine}"

    def load(self) -> tuple[dict, dict]:
        acked = {(p, r): (g, o) for p, r, g, o in self.conn.execute(
            "select provider, rel, gen, offset from acked where target = ?", (self.target,))}
        sidecars = {(p, r): v for p, r, v in self.conn.execute(
            "select provider, rel, version from sidecars where target = ?", (self.target,))}
        return acked, sidecars

    def save(self, acked: dict, sidecars: dict, *, replace: bool = False) -> None:
        conn = self.conn
        conn.execute("begin")
        try:
            if replace:
                conn.execute("delete from acked where target = ?", (self.target,))
                conn.execute("delete from sidecars where target = ?", (self.target,))
            conn.executemany("insert or replace into acked values (?, ?, ?, ?, ?)",
                             [(self.target, p, r, g, o) for (p, r), (g, o) in acked.items()])
            conn.executemany("insert or replace into sidecars values (?, ?, ?, ?)",
                             [(self.target, p, r, v) for (p, r), v in sidecars.items()])
        except BaseException:
            conn.execute("rollback")
            raise
        conn.execute("commit")

    def close(self) -> None:
        self.conn.close()
