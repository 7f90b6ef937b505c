"""Bring one source file's archive and index up to date.

For each source the index records the current generation's archived length
(its committed offset), how far lines are indexed, and the file's identity
(inode, mtime) when last read.  ``sync_source``:

1. reconciles: bytes the archive holds beyond the committed offset (fsync'd,
   then killed before the commit) are adopted, never re-copied (I3);
2. checks the file still continues what was archived (same first and last
   archived bytes, not shorter); if not, starts a new generation (I5);
3. copies new bytes to the archive (fsync) and then commits their lines.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import archive
from ..index.feed import LineFeeder
from ..index.writer import Source, Writer

CHUNK = 4 << 20  # bytes read per step: bounds memory, keeps transactions short
WINDOW = 4096  # bytes compared at each end of the archived part


def sync_source(writer: Writer, archive_dir: Path, source: Source, path: Path, on_bytes=None) -> int:
    """Archive and index what ``path`` holds beyond the archive; return bytes copied."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return 0
    gen = source.generation
    apath = archive_dir / gen.archive
    alen = apath.stat().st_size if apath.exists() else 0
    if alen == gen.archived == st.st_size and (gen.inode, gen.mtime_ns) == (st.st_ino, st.st_mtime_ns):
        return 0  # unchanged since last read
    writer.mark_present(source)
    reconcile(writer, archive_dir, source)
    while not _continues(path, archive_dir / source.generation.archive, source.generation.archived, st.st_size):
        # A crash may have left bytes in the next generation's file before
        # its row committed: reconcile adopts them, then we check again.
        writer.new_generation(source)
        reconcile(writer, archive_dir, source)
    apath, alen = archive_dir / source.generation.archive, source.generation.archived
    copied = _copy_new_bytes(writer, source, path, apath, alen, on_bytes)
    writer.set_identity(source, st.st_ino, st.st_mtime_ns)
    return copied


class ArchiveDamaged(Exception):
    """The archive holds fewer bytes than the index recorded: something other
    than zergd changed it.  Never papered over."""


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
        writer.new_generation(source)


def next_generation_file(archive_dir: Path, source: Source) -> Path:
    return archive_dir / archive.archive_rel(source.host, source.provider, source.rel, source.generation.gen + 1)


def index_archived(writer: Writer, source: Source, apath: Path, alen: int) -> None:
    """Index archived bytes from the indexed offset up to ``alen``."""
    gen = source.generation
    feeder = LineFeeder(gen.indexed, gen.lines)
    with open(apath, "rb") as f:
        f.seek(gen.indexed)
        pos = gen.indexed
        while pos < alen:
            data = f.read(min(CHUNK, alen - pos))
            if not data:
                break
            pos += len(data)
            batch = feeder.feed(data)
            if pos >= alen or batch.lines:
                writer.commit(source, pos, batch)


def _continues(path: Path, apath: Path, alen: int, size: int) -> bool:
    if alen == 0:
        return True
    if size < alen:
        return False
    head = min(WINDOW, alen)
    tail_start = max(0, alen - WINDOW)
    with open(path, "rb") as src, open(apath, "rb") as arc:
        return (
            os.pread(src.fileno(), head, 0) == os.pread(arc.fileno(), head, 0)
            and os.pread(src.fileno(), alen - tail_start, tail_start)
            == os.pread(arc.fileno(), alen - tail_start, tail_start)
        )


def _copy_new_bytes(writer: Writer, source: Source, path: Path, apath: Path, alen: int, on_bytes) -> int:
    gen = source.generation
    feeder = LineFeeder(gen.indexed, gen.lines)
    if gen.archived > gen.indexed:
        feeder.feed(archive.read_range(apath, gen.indexed, gen.archived - gen.indexed))
    copied = 0
    with open(path, "rb") as src:
        src.seek(alen)
        while True:
            data = src.read(CHUNK)
            if not data:
                break
            alen = archive.append(apath, data)  # durable before the commit below
            writer.commit(source, alen, feeder.feed(data))
            copied += len(data)
            if on_bytes:
                on_bytes(len(data))
    if copied == 0 and not apath.exists():
        archive.create_empty(apath)  # an empty source still exports (as empty)
    return copied
