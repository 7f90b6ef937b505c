"""Bring one source file's archive and index up to date.

For each source the index records the current generation's archived length
(its committed offset), how far lines are indexed, a running CRC-32 of the
archived bytes, and the file's identity (inode, mtime) when last read.
``sync_source``:

1. reconciles: bytes the archive holds beyond the committed offset (fsync'd,
   then killed before the commit) are adopted, never re-copied (I3);
2. checks the file still continues what was archived: same first and last
   archived bytes and not shorter, and with ``full_check`` (every rescan)
   the same CRC over the whole archived prefix, which catches a rewrite that
   changed only the middle; if not, starts a new generation (I5);
3. copies new bytes to the archive (fsync) and then commits their lines.
   After every read it re-checks that the file still holds the archived
   start and the bytes just before and at the end of what was read: bytes
   read while the file was being rewritten in place are never appended to
   the old generation; the file is read again from byte 0 into a new one.

What this cannot see: a file rewritten twice between two of those checks
(a few milliseconds apart), back to its old start and end, keeps only what
the checks saw.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

from .. import archive
from ..archive import sidecars
from ..archivist import Archivist
from ..config import Settings
from ..index.naming import text_rel
from ..index.writer import Source, Writer
from ..transcript import PROVIDERS, describe
from .compressed import SUFFIX, NotARollout, decompress, is_compressed, plain
from .sources import open_transcript

log = logging.getLogger("zergd.watch")

CHUNK = 4 << 20  # bytes read per step: bounds memory, keeps transactions short
WINDOW = 4096  # bytes compared at each end of the archived part
ATTEMPTS = 3  # reads of a file that keeps being rewritten before we retry it later


class SourceUnstable(Exception):
    """The file was rewritten in place again and again while we read it."""


def sync_file(writer: Writer, settings: Settings, provider: str, rel: str, path: Path, on_bytes=None, *,
              full_check: bool = False) -> int:
    """Open ``path`` safely (``sources.Skipped`` if it is no regular file
    inside the roots), register it on first sight and sync it."""
    packed = is_compressed(path.name)
    stream = text_rel(str(plain(path) if packed else path))
    with open_transcript(path, settings.source_roots()) as src:
        info = describe(provider, rel)
        if packed:
            return _sync_compressed(writer, settings, info, stream, src, path.name, on_bytes)
        source = _register(writer, settings, info, stream)
        return sync_source(writer, settings.archive_dir, source, src, on_bytes, full_check=full_check)


def _register(writer: Writer, settings: Settings, info, stream: str) -> Source:
    """The source read from ``stream`` (its path), registered on first sight."""
    if PROVIDERS[info.provider].moves:
        _follow_move(writer, settings, info, stream)
    return writer.open_source(settings.host, info, stream)


def _sync_compressed(writer: Writer, settings: Settings, info, stream: str, src, name: str, on_bytes) -> int:
    """A rollout Codex compressed: its decompressed bytes, checked whole
    against the archive (the same bytes add nothing), and the compressed
    file's sha256 kept beside the archived stream (``<rel>.zst.sha256``).
    One that does not decompress is kept as it is (``<rel>.zst``) and set aside."""
    st = os.fstat(src.fileno())
    try:
        unpacked, digest = decompress(src, settings.home / "tmp")
    except NotARollout:
        src.seek(0)
        sidecars.store_file(settings.archive_dir, settings.host, info.provider, info.rel + SUFFIX, src, st.st_size,
                            st.st_mtime_ns)
        raise
    with unpacked:
        source = _register(writer, settings, info, stream)
        copied = sync_source(writer, settings.archive_dir, source, unpacked, on_bytes, full_check=True)
    writer.set_identity(source, st.st_ino, st.st_mtime_ns, checked=True)  # the rescan's "unchanged"
    sidecars.store(settings.archive_dir, source.host, source.provider, source.rel + SUFFIX + ".sha256",
                   f"{digest}  {name}\n".encode())
    return copied


def _follow_move(writer: Writer, settings: Settings, info, path: str) -> None:
    """A Codex rollout named by a session already archived from a file that
    is gone was moved (`codex` archives a session by moving it from
    sessions/ to archived_sessions/): it stays one session.  A copy, whose
    first file still exists, is a session of its own (a qualified id)."""
    found = writer.moved_candidate(settings.host, info)
    if found is None:
        return
    source_id, old_path = found
    if old_path and old_path != path and os.path.lexists(old_path):
        return
    writer.move_source(source_id, info.rel, path)


def sync_source(writer: Writer, archive_dir: Path, source: Source, src, on_bytes=None, *,
                full_check: bool = False) -> int:
    """Archive and index what the open file ``src`` holds beyond the archive;
    return bytes copied."""
    st = os.fstat(src.fileno())
    gen = source.generation
    apath = archive_dir / gen.archive
    alen = apath.stat().st_size if apath.exists() else 0
    if source.deleted:  # put back (zerg restore, a backup): said in the log, as its deletion was
        log.info("source back: %s (session %s)", source.path, source.session_id)
    writer.mark_present(source)  # before the shortcut: a file moved back into view is unchanged
    unchanged = alen == gen.archived == st.st_size and (gen.inode, gen.mtime_ns) == (st.st_ino, st.st_mtime_ns)
    if unchanged and (not full_check or gen.checked_mtime_ns == st.st_mtime_ns):
        return 0
    keeper = Archivist(writer, archive_dir, source)
    keeper.reconcile()
    for _attempt in range(ATTEMPTS):
        while not _continues(keeper, src, st.st_size, full_check):
            # A crash may have left bytes in the next generation's file before
            # its row committed: reconcile adopts them, then we check again.
            keeper.seal()
            keeper.reconcile()
        from_start = source.generation.archived == 0
        copied, intact = _copy_new_bytes(keeper, src, on_bytes)
        if intact:
            writer.set_identity(source, st.st_ino, st.st_mtime_ns, checked=full_check or from_start)
            return copied
        st = os.fstat(src.fileno())
    raise SourceUnstable(f"rewritten in place {ATTEMPTS} times while being read; will retry")


def _continues(keeper: Archivist, src, size: int, full_check: bool) -> bool:
    """Whether the open file still continues the current generation: the same
    first and last archived bytes and not shorter; with ``full_check`` the
    same CRC over the whole archived prefix."""
    gen = keeper.source.generation
    alen = gen.archived
    if alen == 0:
        return True
    if size < alen:
        return False
    apath = keeper.path
    fd = src.fileno()
    head = archive.read_range(apath, 0, min(WINDOW, alen))
    last = archive.read_range(apath, max(0, alen - WINDOW), min(WINDOW, alen))
    if os.pread(fd, len(head), 0) != head or os.pread(fd, len(last), alen - len(last)) != last:
        return False
    if not full_check:
        return True
    # One sequential read of the source's archived prefix (bench_import.py reports its cost).
    crc, pos = 0, 0
    while pos < alen:
        data = os.pread(fd, min(CHUNK, alen - pos), pos)
        if not data:
            return False
        crc = zlib.crc32(data, crc)
        pos += len(data)
    return crc == keeper.crc()


def _still_holds(fd: int, head: bytes, last: bytes, pos: int, data: bytes) -> bool:
    """After reading ``data`` at ``pos``: does the file still start with
    ``head``, hold ``last`` just before ``pos`` and ``data``'s end after it?
    If not, it was rewritten in place while we read."""
    tail = data[-WINDOW:]
    end = pos + len(data)
    return (
        os.pread(fd, len(head), 0) == head
        and (not last or os.pread(fd, len(last), pos - len(last)) == last)
        and os.pread(fd, len(tail), end - len(tail)) == tail
    )


def _copy_new_bytes(keeper: Archivist, src, on_bytes) -> tuple[int, bool]:
    """Append what ``src`` holds past the archived end; (bytes copied, whether
    the file stayed a continuation of the archive throughout)."""
    out = keeper.appender()
    apath, pos, fd = out.path, out.pos, src.fileno()
    head = archive.read_range(apath, 0, min(WINDOW, pos)) if pos else b""
    last = archive.read_range(apath, max(0, pos - WINDOW), min(WINDOW, pos)) if pos else b""
    copied = 0
    while True:
        data = os.pread(fd, CHUNK, pos)
        if not data:
            break
        if not _still_holds(fd, head or data[:WINDOW], last, pos, data):
            return copied, False
        end = out.write(data)
        head = head or data[:WINDOW]
        last = (last + data)[-WINDOW:] if len(data) < WINDOW else data[-WINDOW:]
        pos = end
        copied += len(data)
        if on_bytes:
            on_bytes(len(data))
    out.finish()
    return copied, True
