"""The receiving side: apply a shipper's items to the archive and index,
in the daemon's writer thread (the one writer), on the same invariants as
local sources.

Each range is appended only at exactly the offset this side has archived:
a range already here is acknowledged again if its bytes are equal (a retry),
a range past the end (a gap) or one whose bytes differ from what is here is
refused with the offset this side has.  Every answer carries the archived
offset, so a shipper resumes from what is here, not from what it sent.
Rewrites arrive as generations and stay generations (I5).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import archive
from ..archive.sidecars import (SUFFIX, archived_versions, is_sidecar, meta_fields, session_files_under,
                                transcript_rel, write_version)
from ..archivist import Archivist
from ..index.writer import Source, Writer
from ..transcript import describe
from .protocol import Item


class Refused(Exception):
    """This item does not continue what is archived; ``have`` says what is.
    ``reason``: "gap" (resume from ``have``) or "conflict" (bytes here differ:
    the two sides hold different files under one name; retrying cannot help)."""

    def __init__(self, message: str, have: dict, reason: str = "gap"):
        super().__init__(message)
        self.have = have
        self.reason = reason


@dataclass
class Result:
    item: Item
    have: dict  # {"gen": n, "offset": bytes} for a range; {"version": n} for a sidecar
    error: str | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        d = {"kind": self.item.kind, "provider": self.item.provider, "rel": self.item.rel, **self.have,
             "ok": self.error is None}
        if self.error:
            d["error"], d["reason"] = self.error, self.reason
        return d


def apply(writer: Writer, archive_dir: Path, machine: str, items: list[tuple[Item, memoryview]]) -> list[Result]:
    """Apply every item in order, in one transaction (one commit per request,
    not per file).  A refused item does not stop the others, but the later
    ranges of the same file are refused too: they would follow a gap."""
    results = []
    refused: set[tuple[str, str]] = set()
    with writer.transaction():
        for item, data in items:
            key = (item.provider, item.rel)
            try:
                if key in refused:
                    raise Refused("an earlier range of this file in the same request was refused", {})
                apply_item = {"range": _apply_range, "sidecar": _apply_sidecar, "mark": _apply_mark}[item.kind]
                have = apply_item(writer, archive_dir, machine, item, data)
                results.append(Result(item, have))
            except Refused as e:
                refused.add(key)
                results.append(Result(item, e.have or _have(writer, machine, item), str(e), e.reason))
    return results


def _have(writer: Writer, machine: str, item: Item) -> dict:
    source = writer.find_source(machine, item.provider, item.rel)
    return {"gen": source.generation.gen, "offset": source.generation.archived} if source else {"gen": 1, "offset": 0}


def _apply_range(writer: Writer, archive_dir: Path, machine: str, item: Item, data: memoryview) -> dict:
    source = writer.find_source(machine, item.provider, item.rel)
    if source is None:
        # Register only what can start the file: a refused range writes nothing.
        if item.gen != 1 or item.offset != 0:
            raise Refused(f"this server has nothing of {item.rel} yet: send generation 1 from offset 0",
                          {"gen": 1, "offset": 0})
        info = describe(item.provider, item.rel)
        if info.parent_session_id and writer.foreign_parent(machine, info):
            raise Refused(f"{item.rel} names as its parent session {info.parent_session_id}, which another machine"
                          " holds and this one does not: a subagent attaches only to its own machine's session",
                          {"gen": 1, "offset": 0}, "conflict")
        source = writer.open_source(machine, info, None)
        _apply_known_sidecar(writer, archive_dir, machine, item)
    keeper = Archivist(writer, archive_dir, source)
    keeper.reconcile()  # adopt bytes a crash left archived but not committed
    gen = source.generation
    if item.gen < gen.gen:
        return _check_sealed(writer, archive_dir, source, item, data)
    if item.gen > gen.gen:
        if item.gen != gen.gen + 1 or item.offset != 0 or item.prev_length != gen.archived:
            raise Refused(f"generation {item.gen} cannot start here: this server has generation {gen.gen} at "
                          f"{gen.archived} bytes", {"gen": gen.gen, "offset": gen.archived})
        keeper.seal()
        gen = source.generation
    have = gen.archived
    if item.offset > have:
        raise Refused(f"a gap: this server has {have} bytes of generation {gen.gen}, the range starts at "
                      f"{item.offset}", {"gen": gen.gen, "offset": have})
    overlap = min(have - item.offset, item.length)
    if overlap and archive.read_range(archive_dir / gen.archive, item.offset, overlap) != data[:overlap]:
        raise Refused(f"bytes at {item.offset} differ from what this server archived there",
                      {"gen": gen.gen, "offset": have}, "conflict")
    if item.length > overlap or not (archive_dir / gen.archive).exists():
        have = keeper.append(data[overlap:])
    return {"gen": gen.gen, "offset": have}


def _apply_known_sidecar(writer: Writer, archive_dir: Path, machine: str, item: Item) -> None:
    """A subagent's sidecar may arrive before its transcript: its fields go on
    the session once that is registered."""
    if not item.rel.endswith(".jsonl"):
        return
    versions = archived_versions(archive_dir, machine, item.provider, item.rel[: -len(".jsonl")] + SUFFIX)
    if versions:
        writer.set_agent_meta(machine, item.provider, item.rel, *meta_fields(versions[-1].read_bytes()))


def _check_sealed(writer: Writer, archive_dir: Path, source: Source, item: Item, data: memoryview) -> dict:
    """A range of a generation that is complete here: a retry, if equal."""
    row = writer.conn.execute("select archive, archived from generations where source_id = ? and gen = ?",
                              (source.id, item.gen)).fetchone()
    current = {"gen": source.generation.gen, "offset": source.generation.archived}
    if row is None or item.offset + item.length > row[1]:
        raise Refused(f"generation {item.gen} is sealed here at {row[1] if row else 0} bytes", current)
    if archive.read_range(archive_dir / row[0], item.offset, item.length) != data:
        raise Refused(f"bytes of sealed generation {item.gen} at {item.offset} differ from what is here", current,
                      "conflict")
    return {"gen": item.gen, "offset": row[1]}


def _apply_sidecar(writer: Writer, archive_dir: Path, machine: str, item: Item, data: memoryview) -> dict:
    versions = archived_versions(archive_dir, machine, item.provider, item.rel)
    if item.gen <= len(versions):
        if versions[item.gen - 1].read_bytes() != data:
            raise Refused(f"version {item.gen} of {item.rel} differs from the one here", {"version": len(versions)},
                          "conflict")
        return {"version": len(versions)}
    if item.gen != len(versions) + 1:
        raise Refused(f"a gap: this server has {len(versions)} versions of {item.rel}", {"version": len(versions)})
    write_version(archive_dir / archive.archive_rel(machine, item.provider, item.rel, item.gen), bytes(data))
    if is_sidecar(item.rel.rsplit("/", 1)[-1]):
        writer.set_agent_meta(machine, item.provider, transcript_rel(item.rel), *meta_fields(bytes(data)))
    return {"version": item.gen}


def _apply_mark(writer: Writer, _archive_dir: Path, machine: str, item: Item, _data) -> dict:
    """The source was deleted on its machine (Claude Code's cleanup), or is
    back: the session here says so too."""
    source = writer.find_source(machine, item.provider, item.rel)
    if source is None:
        raise Refused(f"this server has nothing of {item.rel} to mark", {"gen": 1, "offset": 0})
    if item.deleted_at:
        writer.mark_deleted(source.session_id, item.deleted_at)
    else:
        writer.mark_present(source)
    return {"deleted_at": item.deleted_at}


def machine_state(reader, archive_dir: Path, machine: str) -> dict:
    """What this side has from ``machine``: each transcript's newest generation
    and archived length, each sidecar's number of versions."""
    files = [{"provider": p, "rel": r, "gen": g, "offset": a, "crc": crc, "deleted_at": deleted}
             for p, r, g, a, crc, deleted in reader.machine_files(machine)]
    sidecars = []
    root = archive_dir / machine
    if root.is_dir():
        for provider_dir in sorted(root.iterdir()):
            for rel in session_files_under(provider_dir):
                sidecars.append({"provider": provider_dir.name, "rel": rel,
                                 "version": len(archived_versions(archive_dir, machine, provider_dir.name, rel))})
    return {"machine": machine, "files": files, "sidecars": sidecars}
