"""The rows the writer and its callers speak: a ``Source`` (one file of one
machine) and its current ``Generation``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass



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


GEN_COLS = "id, gen, archive, archived, indexed, lines, inode, mtime_ns, crc, checked_mtime_ns, sha256"
