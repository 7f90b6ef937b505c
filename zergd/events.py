"""In-process event bus: the daemon's components tell each other what
happened without knowing each other.  The writer publishes what changed
after each commit (``SessionChanged``, ``ArchiveGrew``); the watcher and
the shipper publish ``StatusChanged``; the browser's live stream (SSE), the
shipper and tests subscribe, each to the kinds it wants.

Events are typed; JSON is made only at the edge that sends them (the SSE
stream).  A slow subscriber loses old events rather than slowing the writer.
"""

from __future__ import annotations

import asyncio
import itertools
import queue
import threading
from dataclasses import dataclass, replace

SESSION_CREATED = "session.created"
SESSION_UPDATED = "session.updated"
SESSION_SOURCE_DELETED = "session.source_deleted"
STATUS_CHANGED = "status.changed"  # files set aside or recovered: the Timeline refreshes its banner
ARCHIVE_GREW = "archive.grew"


@dataclass(frozen=True)
class SessionChanged:
    """A session's row changed, after the commit that changed it."""

    type: str  # SESSION_CREATED | SESSION_UPDATED | SESSION_SOURCE_DELETED
    session: dict  # its id and counts (watch.service.COUNT_FIELDS)
    seq: int = 0  # set by the bus, in publishing order

    def as_dict(self) -> dict:
        return {"type": self.type, "session": self.session, "seq": self.seq}


@dataclass(frozen=True)
class StatusChanged:
    """Files were set aside or recovered (see watch.faults)."""

    what: str  # "faults" (files set aside or recovered), "shipping" (its trouble began or ended)
    seq: int = 0
    type: str = STATUS_CHANGED

    def as_dict(self) -> dict:
        return {"type": self.type, "what": self.what, "seq": self.seq}


@dataclass(frozen=True)
class ArchiveGrew:
    """The writer appended to these archive files (relative to the archive
    folder) and committed what it indexed of them.  Not sent to browsers."""

    archives: frozenset[str]
    seq: int = 0
    type: str = ARCHIVE_GREW

    def as_dict(self) -> dict:
        return {"type": self.type, "archives": sorted(self.archives), "seq": self.seq}


Event = SessionChanged | StatusChanged | ArchiveGrew


class Subscription:
    """A bounded queue of events, readable from threads or from asyncio."""

    def __init__(self, bus: "EventBus", maxsize: int, loop: asyncio.AbstractEventLoop | None, kinds: tuple):
        self.bus = bus
        self.loop = loop
        self.kinds = kinds
        self.queue: queue.Queue | asyncio.Queue = asyncio.Queue(maxsize) if loop else queue.Queue(maxsize)

    def _put(self, event: "Event") -> None:
        q = self.queue
        try:
            q.put_nowait(event)
        except (queue.Full, asyncio.QueueFull):
            try:
                q.get_nowait()  # drop the oldest
            except (queue.Empty, asyncio.QueueEmpty):
                pass
            q.put_nowait(event)

    def deliver(self, event: "Event") -> None:
        if self.loop is not None:
            try:
                self.loop.call_soon_threadsafe(self._put, event)
            except RuntimeError:  # the loop closed under us
                self.close()
        else:
            self._put(event)

    def get(self, timeout: float | None = None) -> "Event":
        """Blocking read (thread subscribers); raises queue.Empty on timeout."""
        return self.queue.get(timeout=timeout)

    def close(self) -> None:
        self.bus.unsubscribe(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class EventBus:
    def __init__(self):
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)

    def subscribe(self, *kinds: type, maxsize: int = 1000,
                  loop: asyncio.AbstractEventLoop | None = None) -> Subscription:
        """Events of ``kinds`` (default: every kind a browser may be sent)."""
        sub = Subscription(self, maxsize, loop, kinds or (SessionChanged, StatusChanged))
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, event: Event) -> Event:
        event = replace(event, seq=next(self._seq))
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if isinstance(event, sub.kinds):
                sub.deliver(event)
        return event
