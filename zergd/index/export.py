"""Find a session's archived bytes: by id, unique id prefix, source path or
archive path.  Export needs only the index and the archive, so it works with
the daemon stopped and after Claude Code deleted the source."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from ..archive import parse_archive_rel
from ..config import Settings
from ..errors import ArchiveDamaged, NotFound


class SessionLookupError(NotFound):
    """No such session, or the prefix fits several (their ids are in ``candidates``)."""


@dataclass
class Generation:
    session_id: str
    gen: int
    archive: Path
    archived: int


def resolve_session(conn, settings: Settings, ref: str) -> tuple[str, int | None]:
    """(session id, generation or None) for what a user typed."""
    row = conn.execute("select id from sessions where id = ?", (ref,)).fetchone()
    if row:
        return row[0], None
    by_path = _by_path(conn, settings, ref)
    if by_path:
        return by_path
    escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    ids = [r[0] for r in conn.execute(
        "select id from sessions where id like ? escape '\\' order by id limit 21", (escaped + "%",))]
    if len(ids) == 1:
        return ids[0], None
    if not ids:
        raise SessionLookupError(f"no session matches {ref!r}")
    more = " (and more)" if len(ids) > 20 else ""
    raise SessionLookupError(f"{ref!r} is ambiguous; it starts {len(ids[:20])} session ids{more}", ids[:20])


def _by_path(conn, settings: Settings, ref: str) -> tuple[str, int | None] | None:
    if "/" not in ref and os.sep not in ref:
        return None
    path = Path(os.path.abspath(Path(ref).expanduser()))
    row = conn.execute(
        "select x.id from sources s join sessions x on x.source_id = s.id where s.path = ?", (str(path),)
    ).fetchone()
    if row:
        return row[0], None
    try:
        rel = path.relative_to(os.path.abspath(settings.archive_dir)).as_posix()
    except ValueError:
        return None
    parsed = parse_archive_rel(rel)
    if not parsed:
        return None
    host, provider, source_rel, gen = parsed
    row = conn.execute(
        "select x.id from sources s join sessions x on x.source_id = s.id"
        " where s.host = ? and s.provider = ? and s.rel = ?", (host, provider, source_rel),
    ).fetchone()
    return (row[0], gen) if row else None


def generations(conn, settings: Settings, session_id: str) -> list[Generation]:
    rows = conn.execute(
        "select g.gen, g.archive, g.archived from generations g join sessions x on x.source_id = g.source_id"
        " where x.id = ? order by g.gen", (session_id,),
    ).fetchall()
    return [Generation(session_id, gen, settings.archive_dir / archive, archived) for gen, archive, archived in rows]


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
