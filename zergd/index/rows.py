"""The rows the writer, the reader and their callers speak: a ``Source``
(one file of one machine), its current ``Generation``, and what is known of
each source's newest generation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Generation:
    id: int
    gen: int
    archive: str  # relative to ZERG_HOME/sessions
    archived: int
    indexed: int
    lines: int
    inode: int | None
    mtime_ns: int | None
    crc: int | None = 0  # running CRC-32 of the archived bytes; None: not known yet
    checked_mtime_ns: int | None = None  # source mtime when its whole prefix last matched
    sha256: str | None = None  # recorded when the generation is sealed


@dataclass
class Source:
    id: int
    session_id: str
    host: str
    provider: str
    rel: str
    path: str | None
    generation: Generation
    deleted: bool = False


# sessions.origin: None for a transcript's session; HISTORY for an agent's
# prompt history (a file, never listed); RECOVERED for the prompts of a
# session with no transcript, recovered from that history (recovered.py).
HISTORY, RECOVERED = "history", "recovered"

GEN_COLS = "id, gen, archive, archived, indexed, lines, inode, mtime_ns, crc, checked_mtime_ns, sha256"


class MachineFile(NamedTuple):
    """A source of one machine as its newest generation has it (what a shipper compares)."""

    provider: str
    rel: str
    gen: int
    archived: int
    crc: int | None
    deleted_at: str | None  # when the source was found deleted


class NewestGeneration(NamedTuple):
    """Where a source's newest generation is archived and how much it holds."""

    host: str
    provider: str
    rel: str
    path: str | None
    gen: int
    archive: str
    archived: int
