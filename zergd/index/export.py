"""A session's archived bytes, read back exactly.  Export needs only the
index (``Reader.resolve``, ``Reader.generations``) and the archive, so it works
with the daemon stopped and after Claude Code deleted the source."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArchiveDamaged, NotFound


class SessionLookupError(NotFound):
    """No such session, or the prefix fits several (their ids are in ``candidates``)."""


@dataclass
class Generation:
    session_id: str
    gen: int
    archive: Path
    archived: int
    # For a session recovered from a prompt history: (offset, length) of its
    # lines in the history's archive file, the only bytes that are its.
    pieces: tuple[tuple[int, int], ...] | None = None


def pick_generation(gens: list[Generation], number: int | None) -> Generation:
    if number is None:
        return gens[-1]
    for g in gens:
        if g.gen == number:
            return g
    raise SessionLookupError(f"session {gens[0].session_id} has generations {', '.join(str(g.gen) for g in gens)}, not {number}")


class ArchiveUnreadable(ArchiveDamaged):
    """The index lists a generation whose archive file is gone or cannot be
    read: reported, never exported as empty."""


def open_archived(gen: Generation):
    """The generation's archive file, open for reading, or ArchiveUnreadable."""
    try:
        if gen.pieces is not None:
            with open(gen.archive, "rb") as f:
                return io.BytesIO(b"".join(os.pread(f.fileno(), length, offset) + b"\n"
                                           for offset, length in gen.pieces))
        return open(gen.archive, "rb")
    except FileNotFoundError:
        if gen.archived == 0:
            return io.BytesIO(b"")  # an empty source that never got its file
        raise ArchiveUnreadable(f"archive file {gen.archive} is missing ({gen.archived:,} bytes were archived);"
                                " run `zergd check`") from None
    except OSError as e:
        raise ArchiveUnreadable(f"archive file {gen.archive} cannot be read: {e.strerror or e}") from None


def copy_archived(gen: Generation, out) -> int:
    """Write the generation's archived bytes to binary file ``out``."""
    copied = 0
    with open_archived(gen) as f:
        while True:
            try:
                chunk = f.read(1 << 20)
            except OSError as e:  # errors writing ``out`` are the caller's, not the archive's
                raise ArchiveUnreadable(f"archive file {gen.archive} cannot be read: {e.strerror or e}") from None
            if not chunk:
                return copied
            out.write(chunk)
            copied += len(chunk)
