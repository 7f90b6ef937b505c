"""Digests of an archived prefix: the running CRC-32 the index keeps of
every generation (a rescan re-proves a source's whole archived prefix in one
sequential read), and the sha256 recorded when a generation is sealed and
re-verified by `zergd check`."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

CHUNK = 4 << 20  # bytes read per step: bounds memory


def _pieces(path: Path, length: int | None):
    with open(path, "rb") as f:
        while length is None or length > 0:
            data = f.read(CHUNK if length is None else min(CHUNK, length))
            if not data:
                return
            if length is not None:
                length -= len(data)
            yield data


def crc_of(path: Path, length: int) -> int:
    """CRC-32 of the first ``length`` bytes of ``path``."""
    crc = 0
    for data in _pieces(path, length):
        crc = zlib.crc32(data, crc)
    return crc


def sha256_of(path: Path, length: int | None = None) -> str:
    """sha256 of the first ``length`` bytes of ``path`` (all of it: None)."""
    h = hashlib.sha256()
    for data in _pieces(path, length):
        h.update(data)
    return h.hexdigest()
