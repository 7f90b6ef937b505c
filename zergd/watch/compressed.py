"""Codex (0.137 on) compresses a rollout idle for a week to
``rollout-….jsonl.zst`` and deletes the plain file; resuming the session
writes the plain file back (and deletes the ``.zst``).  Both are one
logical stream, the plain ``.jsonl`` name: its decompressed bytes are
compared with the archive like any read of the file, so the same bytes are
neither a new generation nor a deletion, and a ``.zst`` met first is
archived decompressed.  The plain file wins when both exist (as in Codex)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

try:  # PEP 784: in the standard library from Python 3.14
    from compression import zstd
except ImportError:  # pragma: no cover - exercised on 3.14 only
    from backports import zstd

SUFFIX = ".zst"
CHUNK = 1 << 20
# A rollout compresses about tenfold; one that claims to grow past this is not one.
MAX_DECOMPRESSED = 16 << 30


class NotARollout(OSError):
    """The .zst does not decompress to a rollout (damaged, or a bomb)."""


def is_compressed(name: str) -> bool:
    return name.endswith(".jsonl" + SUFFIX)


def plain(path: Path) -> Path:
    """The plain ``.jsonl`` a compressed rollout stands for."""
    return path.with_name(path.name[: -len(SUFFIX)])


def compressed(path: Path) -> Path:
    return path.with_name(path.name + SUFFIX)


def decompress(src, tmp_dir: Path):
    """(an open anonymous file holding the decompressed bytes, the sha256 of
    the compressed file) for the open ``.zst`` file ``src``.  Memory stays
    bounded whatever the sizes."""
    src.seek(0)
    hashed = _Hashing(src)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = tempfile.TemporaryFile(dir=tmp_dir)
    try:
        total = 0
        with zstd.ZstdFile(hashed) as reader:
            while chunk := reader.read(CHUNK):
                total += len(chunk)
                if total > MAX_DECOMPRESSED:
                    raise NotARollout(f"decompresses to more than {MAX_DECOMPRESSED:,} bytes")
                out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    except zstd.ZstdError as e:
        out.close()
        raise NotARollout(f"not a zstd stream: {e}") from None
    except BaseException:
        out.close()
        raise
    while hashed.read(CHUNK):  # bytes past the last frame count in the digest too
        pass
    out.seek(0)
    return out, hashed.digest.hexdigest()


class _Hashing:
    """The compressed file, read once: what the decompressor reads is hashed as it goes."""

    def __init__(self, f):
        self.f = f
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.f.read(size)
        self.digest.update(data)
        return data

    def readable(self) -> bool:
        return True
