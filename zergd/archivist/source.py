"""One source's archive and index, kept in step.

An ``Archivist`` is the only code that appends to an archive file, seals a
generation and adopts bytes a crash left archived but not committed; the
local watcher (zergd.watch.tailer) and the receiving side of shipping
(zergd.ship.ingest) both go through it, so the invariants hold the same way
for a file read here and for bytes that arrived from another machine:

- every piece is appended and fsync'd before the index commit that records
  it (I3: a crash in between leaves bytes that ``reconcile`` adopts, never
  copies again);
- the running CRC-32 of the generation moves with every commit;
- ``seal`` records the sha256 of a generation before the next one starts,
  and never changes a byte of it (I5).
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

from .. import archive
from ..archive.digests import CHUNK, crc_of, sha256_of
from ..errors import ArchiveDamaged
from ..index.feed import LineFeeder
from ..index.writer import Source, Writer


class Archivist:
    def __init__(self, writer: Writer, archive_dir: Path, source: Source):
        self.writer = writer
        self.archive_dir = archive_dir
        self.source = source

    @property
    def path(self) -> Path:
        """The current generation's archive file."""
        return self.archive_dir / self.source.generation.archive

    def next_generation_file(self) -> Path:
        s = self.source
        return self.archive_dir / archive.archive_rel(s.host, s.provider, s.rel, s.generation.gen + 1)

    def crc(self) -> int:
        """The running CRC of the archived bytes, computed once for generations
        archived before the index kept it."""
        gen = self.source.generation
        if gen.crc is None:
            self.writer.set_crc(gen, crc_of(self.path, gen.archived))
        return gen.crc

    def seal(self) -> None:
        """Close the current generation (recording its digest) and start the next."""
        apath = self.path
        archived = self.source.generation.archived
        digest = sha256_of(apath, archived) if apath.exists() else hashlib.sha256().hexdigest()
        self.writer.new_generation(self.source, digest)

    def reconcile(self) -> None:
        """Adopt archived bytes the index has not recorded (a crash between the
        archive's fsync and the index commit): they are indexed, not copied
        again.  That includes a later generation whose file exists but whose
        row was rolled back: the archive, not the index, says which generation
        is current."""
        while True:
            gen = self.source.generation
            apath = self.path
            alen = apath.stat().st_size if apath.exists() else 0
            if alen < gen.archived:
                raise ArchiveDamaged(f"{apath}: {alen} bytes, index recorded {gen.archived}")
            if alen > gen.archived:
                self.index_archived(alen)
            if not self.next_generation_file().exists():
                return
            self.seal()

    def index_archived(self, alen: int) -> None:
        """Index archived bytes from the indexed offset up to ``alen``."""
        gen = self.source.generation
        apath = self.path
        crc = self.crc()
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
                    self.writer.commit(self.source, pos, batch, crc)

    def appender(self) -> "Appender":
        return Appender(self)

    def append(self, data: bytes) -> int:
        """Append bytes that arrived from elsewhere (a shipper) at the end of
        the current generation, and index them; the new archived length.  The
        caller has checked they continue what is archived."""
        out = self.appender()
        for start in range(0, len(data), CHUNK):
            out.write(bytes(data[start:start + CHUNK]))
        out.finish()
        return out.pos


class Appender:
    """Appends to the current generation from its archived end: each piece
    durable first, then its lines committed with the running CRC."""

    def __init__(self, archivist: Archivist):
        self.archivist = archivist
        gen = archivist.source.generation
        self.path = archivist.path
        self.feeder = LineFeeder(gen.indexed, gen.lines, _rereader(self.path))
        if gen.archived > gen.indexed:
            self.feeder.feed(archive.read_range(self.path, gen.indexed, gen.archived - gen.indexed))
        self.crc = archivist.crc()
        self.pos = gen.archived

    def write(self, data: bytes) -> int:
        """Append ``data`` at the archived end; the new end."""
        end = archive.append(self.path, data)  # durable before the commit below
        if end != self.pos + len(data):
            raise ArchiveDamaged(f"{self.path}: {end} bytes after appending at {self.pos}; something else writes there")
        self.crc = zlib.crc32(data, self.crc)
        self.archivist.writer.commit(self.archivist.source, end, self.feeder.feed(data), self.crc)
        self.pos = end
        return end

    def finish(self) -> None:
        """An empty source still gets its (empty) archive file, so it exports."""
        if not self.path.exists():
            archive.create_empty(self.path)


def _rereader(apath: Path):
    return lambda offset, length: archive.read_range(apath, offset, length)
