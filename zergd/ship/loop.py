"""Continuous shipping inside the daemon (``zergd start --ship-to``): a
thread that ships what the writer says it archived (``ArchiveGrew`` on the
event bus), rescans the archive now and then, and on trouble backs off
exponentially (with jitter) and resumes by itself; when its trouble begins
or ends it says so on the bus (``StatusChanged``).  ``status()`` is what
``zergd status`` shows."""

from __future__ import annotations

import logging
import queue
import random
import threading
import time

from .. import archive
from ..events import ArchiveGrew, EventBus, StatusChanged
from .remote import ShipError, ShipUnavailable
from .shipper import Shipper

log = logging.getLogger("zergd.ship")

# Seconds between full scans of the archive in continuous shipping (appends
# are shipped as the daemon reports them; the scan catches anything else).
SCAN_EVERY = 30.0
MAX_BACKOFF = 300.0
STOP_CHECK = 0.5  # seconds: how soon an idle loop notices it is asked to stop


class ShipLoop:
    def __init__(self, shipper: Shipper, ready=None, bus: EventBus | None = None):
        self.shipper = shipper
        self.ready = ready  # an Event: wait for the start-up backfill before competing with it
        self.bus = bus or EventBus()
        # Large: a lost event only delays those appends to the next scan.
        self._grew = self.bus.subscribe(ArchiveGrew, maxsize=100_000)
        self._shown: tuple = (None, 0)
        self.state = "starting"
        self.error: str | None = None
        self.next_try: float | None = None
        self.failures = 0
        self._dirty: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zergd-ship", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._grew.close()
        self.shipper.close()

    def _wait(self, timeout: float) -> None:
        """Until the archive grows (or stop, or ``timeout`` seconds): what
        grew meanwhile joins the files to ship."""
        deadline = time.time() + timeout
        while not self._stop.is_set():
            try:
                event = self._grew.get(timeout=max(0.0, min(STOP_CHECK, deadline - time.time())))
            except queue.Empty:
                if time.time() >= deadline:
                    return
                continue
            self._dirty.update(event.archives)
            while True:  # and whatever else is queued
                try:
                    self._dirty.update(self._grew.queue.get_nowait().archives)
                except queue.Empty:
                    return

    def status(self) -> dict:
        files, left = self.shipper.behind()
        return {"to": self.shipper.url, "machine": self.shipper.machine, "state": self.state, "error": self.error,
                "files_behind": files, "bytes_behind": left, "in_flight": self.shipper.in_flight,
                "last_ok": self.shipper.last_ok, "failures": self.failures,
                "retry_in_s": round(max(self.next_try - time.time(), 0), 1) if self.next_try else None,
                "conflicts": [{"provider": p, "rel": r, "reason": why}
                              for (p, r), why in sorted(list(self.shipper.conflicts.items()))]}

    def _run(self) -> None:
        if self.ready is not None:
            while not self.ready.wait(0.5):
                if self._stop.is_set():
                    return
        last_scan = 0.0
        while not self._stop.is_set():
            dirty, self._dirty = self._dirty, set()
            try:
                if time.time() - last_scan >= SCAN_EVERY or self.failures:
                    self.shipper.scan()
                    # Ask the other side again what it has: a server wiped or restored
                    # from a backup is refilled within one scan, not believed up to date.
                    self.shipper.synced = False
                    last_scan = time.time()
                    only = None
                else:
                    self.shipper.note_grown(dirty)
                    only = set(_sources_of(dirty, self.shipper.settings.host))
                if only is None or only:
                    self.state = "shipping"
                    self.shipper.ship(only=only, should_stop=self._stop.is_set)
            except (ShipUnavailable, ShipError, OSError) as e:
                self.failures += 1
                self.shipper.synced = False  # ask the other side where it is when it answers again
                self.shipper.remote.close()
                wait = min(MAX_BACKOFF, 2.0 ** min(self.failures, 9)) * random.uniform(0.5, 1.5)
                self.state, self.error, self.next_try = "waiting", str(e), time.time() + wait
                log.warning("shipping to %s paused: %s (retrying in %.0fs)", self.shipper.url, e, wait)
                self._announce()
                self._stop.wait(wait)  # appends meanwhile are found by the scan after it
                continue
            self.state, self.error, self.failures, self.next_try = "idle", None, 0, None
            self._announce()
            self._wait(max(0.0, SCAN_EVERY - (time.time() - last_scan)))

    def _announce(self) -> None:
        """Say on the bus when the trouble shown changes (a new error, conflicts), not on every batch."""
        shown = (self.error, len(self.shipper.conflicts))
        if shown != self._shown:
            self._shown = shown
            self.bus.publish(StatusChanged("shipping"))


def _sources_of(archive_rels, host: str):
    for rel in archive_rels:
        parsed = archive.parse_archive_rel(rel)
        if parsed and parsed[0] == host:
            yield parsed[1], parsed[2]
