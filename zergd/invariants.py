"""The five invariants of DESIGN.md, named once and checked here.

- I1 byte-exact: every generation's archive holds exactly the bytes its
  source held (sha256-equal for the current generation of a quiet source).
- I2 no loss: once a source is quiet, its archived length == its size.
- I3 no duplicates: each byte range of a source is archived and indexed
  once: one row per non-blank line, none overlapping.
- I4 consistent: every line row points at a line start in the archive and
  re-derives from it; the backend's own integrity checks pass.
- I5 immutable: archived bytes never change; a shrinking or rewritten
  source starts a new generation (see ``snapshot`` / ``check_immutable``).

``check_all`` returns a list of human-readable problems (empty when all
hold); tests use it.  ``check_home`` is ``zergd check``: the same, plus every
source on disk (archived yet?) and every file in the archive (indexed?).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from pathlib import Path

from .archive import parse_archive_rel
from .archive.digests import sha256_of
from .index.parse import parse_line


def file_sha256(path: Path) -> str:
    return sha256_of(path)


def check_byte_exact(reader, archive_dir: Path) -> list[str]:
    """I1 and I2 for every source still on disk (call when sources are quiet)."""
    problems = []
    for g in reader.all_generations():
        source, apath, archived = Path(g.path) if g.path else None, archive_dir / g.archive, g.archived
        if not g.current or source is None or not source.exists():
            continue
        if not apath.exists():
            problems.append(f"I2: {source} has no archive file {apath}")
            continue
        size, alen = source.stat().st_size, apath.stat().st_size
        if size != alen or archived != alen:
            problems.append(f"I2: {source} is {size} bytes, archive {alen}, index says {archived}")
        elif file_sha256(source) != file_sha256(apath):
            problems.append(f"I1: {source} and {apath} differ")
    return problems


def expected_lines(data: bytes) -> list[tuple[int, int, bool]]:
    """(offset, length, partial) of every non-blank line of an archive file."""
    out, offset = [], 0
    pieces = data.split(b"\n")
    for i, raw in enumerate(pieces):
        last = i == len(pieces) - 1
        if raw and not raw.isspace():
            out.append((offset, len(raw), last))
        offset += len(raw) + 1
    return out


def check_rows(reader, archive_dir: Path) -> list[str]:
    """I3 and I4 for line rows: one per non-blank archived line, each at a
    line start, re-deriving to the same searchable text (and, where the
    backend stores that text, equal to it)."""
    problems = []
    for g in reader.all_generations():
        apath = archive_dir / g.archive
        data = apath.read_bytes()[:g.archived] if apath.exists() else b""
        rows = reader.line_rows(g.id)
        got = [(r.offset, r.length, bool(r.partial)) for r in rows]
        want = expected_lines(data)
        if got != want:
            problems.append(f"I3: {g.archive}: {len(got)} rows, archive has {len(want)} lines")
            continue
        for r in rows:
            text = parse_line(data[r.offset:r.offset + r.length], 0, 0).text
            if r.searchable != bool(text and r.partial != 1 and not r.copied):  # 2: indexed once quiet
                problems.append(f"I4: {g.archive}@{r.offset}: searchable flag is wrong")
            elif r.stored_text is not None and r.stored_text != text:
                problems.append(f"I4: {g.archive}@{r.offset}: the indexed text differs from the archived line")
    return problems


def snapshot(archive_dir: Path) -> dict[str, bytes]:
    """Every archive file's bytes, to compare later with ``check_immutable``."""
    return {p.relative_to(archive_dir).as_posix(): p.read_bytes() for p in archive_dir.rglob("*") if p.is_file()}


def check_immutable(before: dict[str, bytes], archive_dir: Path) -> list[str]:
    """I5: every archive file still starts with the bytes it held before."""
    problems = []
    for rel, old in before.items():
        path = archive_dir / rel
        if not path.exists():
            problems.append(f"I5: {rel} disappeared")
        elif path.read_bytes()[: len(old)] != old:
            problems.append(f"I5: {rel} changed")
    return problems


def _digests(path: Path, length: int) -> tuple[int, str]:
    crc, h = 0, hashlib.sha256()
    with open(path, "rb") as f:
        while length > 0:
            data = f.read(min(1 << 22, length))
            if not data:
                break
            crc = zlib.crc32(data, crc)
            h.update(data)
            length -= len(data)
    return crc, h.hexdigest()


def check_generations(reader, archive_dir: Path) -> list[str]:
    """I5 for every generation, old ones too: its archive file holds exactly
    the bytes recorded - the running CRC kept since they were written, and
    for a sealed generation the sha256 recorded when it was sealed."""
    problems = []
    for g in reader.all_generations():
        archive, archived, crc, sha256 = g.archive, g.archived, g.crc, g.sha256
        apath = archive_dir / archive
        if not _length_holds(g, apath, problems):
            continue
        got_crc, got_sha = _digests(apath, archived)
        if (crc is not None and got_crc != crc) or (sha256 is not None and got_sha != sha256):
            problems.append(f"I5: {apath}: archived bytes changed since they were written (damaged archive)")
    return problems


def _length_holds(g, apath: Path, problems: list[str]) -> bool:
    """The generation's archive file exists and is as long as recorded (a
    current one may be longer: a crash's leftovers, adopted later); False
    when there is nothing to read further."""
    if not apath.exists():
        if g.archived:
            problems.append(f"I5: {apath} is missing ({g.archived} bytes were archived)")
        return False
    size = apath.stat().st_size
    if size < g.archived or (size > g.archived and not g.current):
        problems.append(f"I5: {apath} is {size} bytes, the index recorded {g.archived}")
        return False
    if size > g.archived:
        problems.append(f"I3: {apath} holds {size - g.archived} bytes the index has not recorded yet"
                        " (a crash's leftovers; the daemon or `zergd import` adopts them)")
    return True


def check_quick(settings, index) -> list[str]:
    """`zergd check --quick`: what holds without reading archived bytes: every
    source archived, every archive file indexed and as long as recorded, and
    the index's own quick check.  Seconds, not minutes, on a large archive."""
    if index is None:
        return check_sources_archived(None, settings)
    with index.reader() as reader:
        problems = check_sources_archived(reader, settings) + check_archive_indexed(reader, settings.archive_dir)
        for g in reader.all_generations():
            _length_holds(g, settings.archive_dir / g.archive, problems)
    return problems + [f"I4: {p}" for p in index.quick_integrity()]


def check_archive_indexed(reader, archive_dir: Path) -> list[str]:
    """Every transcript file in the archive is known to the index (a reindex
    or import interrupted, or files copied in by hand, would leave some out)."""
    known = {g.archive for g in reader.all_generations()}
    problems = []
    for dirpath, _dirs, files in os.walk(archive_dir):
        for name in files:
            path = Path(dirpath, name)
            rel = path.relative_to(archive_dir).as_posix()
            parsed = parse_archive_rel(rel)
            if parsed and rel not in known:
                problems.append(f"I4: {path} is in the archive but not in the index (run `zergd reindex`)")
    return sorted(problems)


def check_sources_archived(reader, settings) -> list[str]:
    """I2 from the sources' side: every transcript on disk has an archive."""
    from .watch.sources import walk_root

    known = reader.sources_on(settings.host) if reader is not None else set()
    problems = []
    for root in settings.source_roots():
        for path, rel in walk_root(root):
            if (root.provider, rel) not in known and path.is_file():
                problems.append(f"I2: {path} is not archived yet (start the daemon or run `zergd import`)")
    return problems


def check_all(index) -> list[str]:
    """Every invariant the index and the archive can prove (``index``: a
    zergd.index.Index, on either backend)."""
    with index.reader() as reader:
        problems = check_byte_exact(reader, index.archive_dir) + check_generations(reader, index.archive_dir)
        problems += check_rows(reader, index.archive_dir)
    if any("damaged" in p or "missing" in p for p in problems):
        # SQLite's FTS5 re-derives text from the archive: its check would
        # only call the damage above a "malformed database".
        return problems
    return problems + [f"I4: {p}" for p in index.integrity()]


def check_home(settings, index) -> list[str]:
    """``zergd check``: everything, from the sources, the archive and the index
    (``index`` None: there is none yet)."""
    if index is None:
        return check_sources_archived(None, settings)
    with index.reader() as reader:
        problems = check_sources_archived(reader, settings) + check_archive_indexed(reader, settings.archive_dir)
    return problems + check_all(index)
