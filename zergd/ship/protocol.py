"""The wire format of ``POST /api/ingest``: what a shipper sends, and the
checks a body passes before anything is written.

A body is (optionally gzip-compressed) one JSON header line, then the bytes
of every item back to back::

    {"machine": "laptop", "items": [
       {"kind": "range", "provider": "claude", "rel": "proj/s.jsonl", "gen": 1,
        "offset": 0, "length": 1234, "sha256": "…", "prev_length": null},
       {"kind": "sidecar", "provider": "claude", "rel": "proj/s/subagents/agent-a.meta.json",
        "version": 1, "length": 210, "sha256": "…"}]}\\n<1234 bytes><210 bytes>

A range is bytes of one generation of one archived transcript, at the offset
they have there; ``prev_length`` (for offset 0 of generation N >= 2) is how
long generation N-1 ended, so a new generation starts only after the old one
is complete on both sides.  A sidecar is one whole version of a subagent's
``.meta.json``.  A mark (no bytes) says a transcript's source was deleted
on its machine at ``deleted_at``, or (null) is back.  Raw bytes, not base64: transcripts are mostly JSON, which
gzip shrinks 5-10x, and base64 would cost a third more before that.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zlib
from dataclasses import dataclass

import orjson

from ..archive import check_rel
from ..archive.sidecars import is_session_file, max_bytes
from ..errors import BadQuery, ZergError
from ..index.dialect import OFFSET_MASK
from ..transcript import NAMES

CONTENT_TYPE = "application/x-zerg-ranges"
# Bytes the shipper still has to send after this request (shown in the receiving side's status).
BEHIND_HEADER = "X-Zerg-Behind"
# A request's body as sent, and once decompressed (a gzip bomb stops here):
# a shipper's batch is 8 MB of ranges, so 64 MiB leaves room and no more.
MAX_BODY = 64 << 20
MAX_DECOMPRESSED = 64 << 20
# The header line, checked before it is parsed: 10,000 items of ~300 bytes fit.
MAX_HEADER = 4 << 20
MAX_ITEMS = 10_000
# Matched whole (fullmatch): "server\n" is not "server".
MACHINE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}")
SHA256 = re.compile(r"[0-9a-f]{64}")
WHEN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?")
# A path as an archive spells it: no empty, "." or ".." parts, so one file has one name.
MAX_DEPTH = 32
NAME_MAX = 255


class TooLarge(ZergError):
    status = 413


@dataclass(frozen=True)
class Item:
    kind: str  # "range" | "sidecar"
    provider: str
    rel: str
    gen: int  # a range's generation; a sidecar's version
    offset: int
    length: int
    sha256: str
    prev_length: int | None = None
    deleted_at: str | None = None  # a mark: when the source was found deleted (None: it is back)

    def header(self) -> dict:
        d = {"kind": self.kind, "provider": self.provider, "rel": self.rel, "length": self.length,
             "sha256": self.sha256}
        if self.kind == "range":
            d.update(gen=self.gen, offset=self.offset, prev_length=self.prev_length)
        elif self.kind == "sidecar":
            d["version"] = self.gen
        else:
            d["deleted_at"] = self.deleted_at
        return d


def encode(machine: str, items: list[tuple[Item, bytes]], level: int = 1) -> bytes:
    """A gzip-compressed request body.  Level 1: on a LAN the CPU is the limit,
    and JSON still shrinks ~6x."""
    parts = [orjson.dumps({"machine": machine, "items": [it.header() for it, _ in items]}), b"\n"]
    parts += [data for _, data in items]
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    return b"".join([*(compressor.compress(p) for p in parts), compressor.flush()])


def decompress(body: bytes | bytearray, encoding: str) -> bytes | bytearray:
    """The body as sent, at most MAX_DECOMPRESSED bytes whatever it claims,
    decompressed a MiB at a time into one buffer; a header line longer than
    MAX_HEADER is refused before the rest is decompressed."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        header_fits(body)
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise BadQuery(f"Content-Encoding {encoding!r} is not understood (send gzip or nothing)")
    d = zlib.decompressobj(31)
    out = bytearray()
    data = body
    header_seen = False
    try:
        while data:
            out += d.decompress(data, 1 << 20)
            if len(out) > MAX_DECOMPRESSED:
                raise TooLarge(f"the body is more than {MAX_DECOMPRESSED >> 20} MiB decompressed")
            if not header_seen:
                header_seen = header_fits(out, final=False)
            data = d.unconsumed_tail
        if not d.eof:
            raise BadQuery("the gzip body is cut short")
    except zlib.error as e:
        raise BadQuery(f"the body is not valid gzip: {e}") from None
    return out


def header_fits(body, *, final: bool = True) -> bool:
    """Whether the header line has ended within MAX_HEADER bytes (TooLarge if
    it runs past them; with ``final``, BadQuery if it never ends)."""
    end = body.find(b"\n", 0, MAX_HEADER + 1)
    if end >= 0:
        return True
    if len(body) > MAX_HEADER:
        raise TooLarge(f"the header line is longer than {MAX_HEADER >> 20} MiB (send fewer items per request)")
    if final:
        raise BadQuery("the body has no header line")
    return False


def _int(value, name: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise BadQuery(f"{name} must be a whole number from {lo} to {hi}")
    return value


def parse(body: bytes) -> tuple[str, list[tuple[Item, memoryview]]]:
    """(machine, [(item, its bytes)]) of a decompressed body; BadQuery naming
    the first thing wrong.  Everything a request can get wrong without
    looking at the archive is checked here, before any of it is written:
    names, paths, numbers, lengths and every item's sha256."""
    header_fits(body)
    end = body.find(b"\n")
    try:
        header = orjson.loads(memoryview(body)[:end])
    except orjson.JSONDecodeError as e:
        raise BadQuery(f"the header line is not JSON: {e}") from None
    if not isinstance(header, dict) or not isinstance(header.get("items"), list):
        raise BadQuery("the header must be an object with a list of items")
    machine = header.get("machine")
    if not isinstance(machine, str) or not MACHINE.fullmatch(machine):
        raise BadQuery("machine must be 1-100 letters, digits, '-', '_' or '.', not starting with '.'")
    raw_items = header["items"]
    if len(raw_items) > MAX_ITEMS:
        raise TooLarge(f"more than {MAX_ITEMS} items in one request")
    payload = memoryview(body)[end + 1:]
    items, pos = [], 0
    for i, raw in enumerate(raw_items):
        item = _item(raw, i)
        data = payload[pos:pos + item.length]
        if len(data) < item.length:
            raise BadQuery(f"item {i}: the body ends before its {item.length} bytes")
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise BadQuery(f"item {i} ({item.rel}): its bytes do not match its sha256 (tampered or damaged)")
        items.append((item, data))
        pos += item.length
    if pos != len(payload):
        raise BadQuery(f"the body holds {len(payload) - pos} bytes more than its items say")
    return machine, items


def check_canonical(rel: str, i: int = 0) -> str:
    """``rel`` if it is a path exactly as an archive spells one: relative, no
    empty, "." or ".." parts (so "p/./x" and "p//x" cannot name "p/x" a second
    time), at most MAX_DEPTH parts of at most NAME_MAX bytes, and no folder
    named like a transcript (a file would stand where the folder must be)."""
    check_rel(rel)  # UnsafePath (a BadQuery): '..', absolute, NUL
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BadQuery(f"item {i}: rel {rel!r} is not in canonical form (no empty, '.' or '..' parts)")
    if len(parts) > MAX_DEPTH:
        raise BadQuery(f"item {i}: rel is more than {MAX_DEPTH} folders deep")
    if any(len(p.encode("utf-8", "surrogateescape")) > NAME_MAX for p in parts):
        raise BadQuery(f"item {i}: a name in rel is longer than {NAME_MAX} bytes")
    if any(GENERATION.search(p) or p.endswith(".meta.json") for p in parts[:-1]):
        raise BadQuery(f"item {i}: rel {rel!r} has a folder named like a transcript or a sidecar")
    return rel


GENERATION = re.compile(r"\.jsonl(\.gen[0-9]+)?$")


def _real_time(value) -> bool:
    """An ISO time that names a real moment (not 2026-13-45T99:99)."""
    if not isinstance(value, str) or not WHEN.fullmatch(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _item(raw, i: int) -> Item:
    if not isinstance(raw, dict):
        raise BadQuery(f"item {i} is not an object")
    kind, provider, rel, digest = raw.get("kind"), raw.get("provider"), raw.get("rel"), raw.get("sha256")
    if kind not in ("range", "sidecar", "mark"):
        raise BadQuery(f"item {i}: kind must be 'range', 'sidecar' or 'mark'")
    if provider not in NAMES:
        raise BadQuery(f"item {i}: provider must be one of {', '.join(NAMES)}")
    if not isinstance(rel, str) or len(rel) > 4096:
        raise BadQuery(f"item {i}: rel must be a relative path")
    check_canonical(rel, i)
    name = rel.rsplit("/", 1)[-1]
    if kind in ("range", "mark") and not name.endswith(".jsonl"):
        raise BadQuery(f"item {i}: a transcript's name ends in .jsonl")
    if kind == "sidecar" and not is_session_file(rel):
        raise BadQuery(f"item {i}: a sidecar is a session's agent-<id>.meta.json or a file in its tool-results/")
    if not isinstance(digest, str) or not SHA256.fullmatch(digest):
        raise BadQuery(f"item {i}: sha256 must be 64 lowercase hex digits")
    length = _int(raw.get("length"), f"item {i}: length", 0, MAX_DECOMPRESSED)
    if kind == "mark":
        when = raw.get("deleted_at")
        if when is not None and not _real_time(when):
            raise BadQuery(f"item {i}: deleted_at must be an ISO time (2026-05-01T12:00:00Z) or null")
        if length:
            raise BadQuery(f"item {i}: a mark carries no bytes")
        return Item(kind, provider, rel, 0, 0, 0, digest, deleted_at=when)
    if kind == "sidecar":
        if length > max_bytes(rel):
            raise BadQuery(f"item {i}: this sidecar is at most {max_bytes(rel)} bytes")
        return Item(kind, provider, rel, _int(raw.get("version"), f"item {i}: version", 1, 1_000_000), 0, length,
                    digest)
    gen = _int(raw.get("gen"), f"item {i}: gen", 1, 1_000_000)
    # Line ids hold an offset in 40 bits (dialect.OFFSET_MASK): 1 TiB per generation.
    offset = _int(raw.get("offset"), f"item {i}: offset", 0, OFFSET_MASK - length)
    prev = raw.get("prev_length")
    if prev is not None:
        prev = _int(prev, f"item {i}: prev_length", 0, OFFSET_MASK)
    return Item(kind, provider, rel, gen, offset, length, digest, prev)
