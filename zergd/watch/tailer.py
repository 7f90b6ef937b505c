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

import hashlib
import logging
import os
import time
import zlib
from pathlib import Path

from .. import archive
from ..config import Settings
from ..errors import ArchiveDamaged
from ..index.feed import TAIL_CAP, LineFeeder
from ..index.naming import describe, text_rel
from ..index.writer import Source, Writer
from .sources import open_transcript

CHUNK = 4 << 20  # bytes read per step: bounds memory, keeps transactions short
WINDOW = 4096  # bytes compared at each end of the archived part
ATTEMPTS = 3  # reads of a file that keeps being rewritten before we retry it later


class SourceUnstable(Exception):
    """The file was rewritten in place again and again while we read it."""


def sync_file(writer: Writer, settings: Settings, provider: str, rel: str, path: Path, on_bytes=None, *,
              full_check: bool = False) -> int:
    """Open ``path`` safely (``sources.Skipped`` if it is no regular file
    inside the roots), register it on first sight and sync it."""
    with open_transcript(path, settings.source_roots()) as src:
        info = describe(provider, rel)
        if provider == "codex":
            _follow_move(writer, settings, info, text_rel(str(path)))
        source = writer.open_source(settings.host, info, text_rel(str(path)))
        return sync_source(writer, settings.archive_dir, source, src, on_bytes, full_check=full_check)


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
    writer.mark_present(source)  # before the shortcut: a file moved back into view is unchanged
    unchanged = alen == gen.archived == st.st_size and (gen.inode, gen.mtime_ns) == (st.st_ino, st.st_mtime_ns)
    if unchanged and (not full_check or gen.checked_mtime_ns == st.st_mtime_ns):
        return 0
    reconcile(writer, archive_dir, source)
    for _attempt in range(ATTEMPTS):
        while not _continues(writer, archive_dir, source, src, st.st_size, full_check):
            # A crash may have left bytes in the next generation's file before
            # its row committed: reconcile adopts them, then we check again.
            seal(writer, archive_dir, source)
            reconcile(writer, archive_dir, source)
        from_start = source.generation.archived == 0
        copied, intact = _copy_new_bytes(writer, archive_dir, source, src, on_bytes)
        if intact:
            writer.set_identity(source, st.st_ino, st.st_mtime_ns, checked=full_check or from_start)
            return copied
        st = os.fstat(src.fileno())
    raise SourceUnstable(f"rewritten in place {ATTEMPTS} times while being read; will retry")


def seal(writer: Writer, archive_dir: Path, source: Source) -> None:
    """Close the current generation (recording its digest) and start the next."""
    apath = archive_dir / source.generation.archive
    digest = sha256_of(apath, source.generation.archived) if apath.exists() else hashlib.sha256().hexdigest()
    writer.new_generation(source, digest)


def reconcile(writer: Writer, archive_dir: Path, source: Source) -> None:
    """Adopt archived bytes the index has not recorded (a crash between the
    archive's fsync and the index commit): they are indexed, not copied again.
    That includes a later generation whose file exists but whose row was
    rolled back: the archive, not the index, says which generation is current."""
    while True:
        gen = source.generation
        apath = archive_dir / gen.archive
        alen = apath.stat().st_size if apath.exists() else 0
        if alen < gen.archived:
            raise ArchiveDamaged(f"{apath}: {alen} bytes, index recorded {gen.archived}")
        if alen > gen.archived:
            index_archived(writer, source, apath, alen)
        if not next_generation_file(archive_dir, source).exists():
            return
        seal(writer, archive_dir, source)


def next_generation_file(archive_dir: Path, source: Source) -> Path:
    return archive_dir / archive.archive_rel(source.host, source.provider, source.rel, source.generation.gen + 1)


def _rereader(apath: Path):
    return lambda offset, length: archive.read_range(apath, offset, length)


def index_archived(writer: Writer, source: Source, apath: Path, alen: int) -> None:
    """Index archived bytes from the indexed offset up to ``alen``."""
    gen = source.generation
    crc = known_crc(writer, source, apath)
    feeder = LineFeeder(gen.indexed, gen.lines, _rereader(apath))
    with open(apath, "rb") as f:
        if gen.archived > gen.indexed:
            f.seek(gen.indexed)
            feeder.feed(f.read(gen.archived - gen.indexed))
        f.seek(gen.archived)
        pos = gen.archived
        while pos < alen:
            data = f.read(min(CHUNK, alen - pos))
            if not data:
                break
            pos += len(data)
            crc = zlib.crc32(data, crc)
            batch = feeder.feed(data)
            if pos >= alen or batch.lines:
                writer.commit(source, pos, batch, crc)


def known_crc(writer: Writer, source: Source, apath: Path) -> int:
    """The running CRC of the archived bytes, computed once for generations
    archived before the index kept it."""
    gen = source.generation
    if gen.crc is None:
        writer.set_crc(gen, crc_of(apath, gen.archived))
    return gen.crc


def crc_of(path: Path, length: int) -> int:
    crc = 0
    with open(path, "rb") as f:
        while length > 0:
            data = f.read(min(CHUNK, length))
            if not data:
                break
            crc = zlib.crc32(data, crc)
            length -= len(data)
    return crc


def sha256_of(path: Path, length: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while length > 0:
            data = f.read(min(CHUNK, length))
            if not data:
                break
            h.update(data)
            length -= len(data)
    return h.hexdigest()


def _continues(writer: Writer, archive_dir: Path, source: Source, src, size: int, full_check: bool) -> bool:
    gen = source.generation
    alen = gen.archived
    if alen == 0:
        return True
    if size < alen:
        return False
    apath = archive_dir / gen.archive
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
    return crc == known_crc(writer, source, apath)


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


def _copy_new_bytes(writer: Writer, archive_dir: Path, source: Source, src, on_bytes) -> tuple[int, bool]:
    """Append what ``src`` holds past the archived end; (bytes copied, whether
    the file stayed a continuation of the archive throughout)."""
    gen = source.generation
    apath = archive_dir / gen.archive
    fd = src.fileno()
    pos = gen.archived
    feeder = LineFeeder(gen.indexed, gen.lines, _rereader(apath))
    if pos > gen.indexed:
        feeder.feed(archive.read_range(apath, gen.indexed, pos - gen.indexed))
    crc = known_crc(writer, source, apath)
    head = archive.read_range(apath, 0, min(WINDOW, pos)) if pos else b""
    last = archive.read_range(apath, max(0, pos - WINDOW), min(WINDOW, pos)) if pos else b""
    copied = 0
    while True:
        data = os.pread(fd, CHUNK, pos)
        if not data:
            break
        if not _still_holds(fd, head or data[:WINDOW], last, pos, data):
            return copied, False
        end, crc = _append(writer, apath, source, feeder, pos, data, crc)
        head = head or data[:WINDOW]
        last = (last + data)[-WINDOW:] if len(data) < WINDOW else data[-WINDOW:]
        pos = end
        copied += len(data)
        if on_bytes:
            on_bytes(len(data))
    if copied == 0 and not apath.exists():
        archive.create_empty(apath)  # an empty source still exports (as empty)
    return copied, True


def _append(writer: Writer, apath: Path, source: Source, feeder: LineFeeder, pos: int, data: bytes,
            crc: int) -> tuple[int, int]:
    """Append ``data`` at ``pos`` (durable), then commit its lines; (new end, running CRC)."""
    end = archive.append(apath, data)  # durable before the commit below
    if end != pos + len(data):
        raise ArchiveDamaged(f"{apath}: {end} bytes after appending at {pos}; something else writes there")
    crc = zlib.crc32(data, crc)
    writer.commit(source, end, feeder.feed(data), crc)
    return end, crc


def append_archived(writer: Writer, archive_dir: Path, source: Source, data: bytes) -> int:
    """Append bytes that arrived from elsewhere (a shipper) at the end of the
    current generation, and index them; return the new archived length.
    The caller has checked they continue what is archived."""
    gen = source.generation
    apath = archive_dir / gen.archive
    feeder = LineFeeder(gen.indexed, gen.lines, _rereader(apath))
    if gen.archived > gen.indexed:
        feeder.feed(archive.read_range(apath, gen.indexed, gen.archived - gen.indexed))
    crc = known_crc(writer, source, apath)
    pos = gen.archived
    for start in range(0, len(data), CHUNK):
        piece = bytes(data[start:start + CHUNK])
        pos, crc = _append(writer, apath, source, feeder, pos, piece, crc)
    if not data and not apath.exists():
        archive.create_empty(apath)
    return pos


# A file whose last line has no newline and that has not changed for this
# long gets that line indexed anyway (Claude Code sometimes ends a file so).
QUIET_SECONDS = 3.0
log = logging.getLogger("zergd.watch")


def index_quiet_tails(writer: Writer, archive_dir: Path, *, quiet: float = QUIET_SECONDS) -> int:
    """Index the unterminated last line of every file quiet for ``quiet``
    seconds (a source that is gone is quiet).  Returns how many still wait."""
    waiting = 0
    now = time.time()
    if not writer.unfinished:
        return 0
    for source in writer.unterminated():
        gen = source.generation
        size = gen.archived - gen.indexed
        if size > TAIL_CAP:
            continue  # not a line anyone is finishing; it stays shown, unindexed
        try:
            mtime = os.stat(source.path).st_mtime if source.path and not source.deleted else 0.0
        except OSError:
            mtime = 0.0
        if now - mtime < quiet:
            waiting += 1
            continue
        try:
            raw = archive.read_range(archive_dir / gen.archive, gen.indexed, size)
        except OSError as e:  # one unreadable archive file does not stop the others
            log.warning("cannot read the unterminated line of %s: %s", gen.archive, e)
            continue
        writer.index_unterminated(source, raw)
    writer.unfinished = waiting > 0
    return waiting
