"""Which files are transcripts, where they are, and how to open one safely.
What a path says about a transcript is in ``zergd.index.naming``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..archive.sidecars import is_tool_result
from ..config import SourceRoot
from ..index.naming import text_rel
from .compressed import SUFFIX, is_compressed


def is_transcript(rel: str) -> bool:
    """A transcript's path (relative to its root, or a file name), plain or
    compressed (watch.compressed)."""
    return (rel.endswith(".jsonl") or is_compressed(rel)) and not is_tool_result(rel)


def walk_root(root: SourceRoot, want=is_transcript, on_error=None):
    """Yield (abs path, rel) for every file under ``root`` whose rel ``want``s,
    sorted so that backfills and reindexes meet files in the same order.  A
    compressed transcript is yielded under its plain rel (the stream it
    holds), unless its plain file is there too.
    A folder that cannot be listed is passed to ``on_error(path, why)`` and
    the walk goes on with the others."""
    base = root.path
    if root.only:
        if want(root.only) and root.scope.is_file():
            yield root.scope, root.only
        return
    if not base.is_dir():
        return

    def report(e: OSError):
        if on_error:
            on_error(e.filename or str(base), f"cannot list folder: {e.strerror or e}")

    found = []
    for dirpath, dirnames, filenames in os.walk(base, onerror=report):
        dirnames.sort()
        folder = os.path.relpath(dirpath, base)
        prefix = "" if folder == "." else folder.replace(os.sep, "/") + "/"
        for name in filenames:
            rel = text_rel(prefix + name)
            if not want(rel):
                continue
            if is_compressed(name):
                if name[: -len(SUFFIX)] in filenames:
                    continue  # the plain file is the stream now
                rel = rel[: -len(SUFFIX)]
            found.append((rel, Path(dirpath, name)))
    for rel, path in sorted(found):
        yield path, rel


def rel_for(roots: list[SourceRoot], path: Path) -> tuple[SourceRoot, str] | None:
    """The root a path lives under and its path relative to it, or None."""
    path = Path(os.path.abspath(path))
    for root in roots:
        if root.only:
            if path == Path(os.path.abspath(root.scope)):
                return root, root.only
            continue
        try:
            return root, text_rel(path.relative_to(os.path.abspath(root.path)).as_posix())
        except ValueError:
            continue
    return None


class Skipped(Exception):
    """A path we deliberately do not read (not a regular file, or a link that
    leads out of the watched folders); the message says which."""


_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def inside(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)


def open_transcript(path: Path, roots: list[SourceRoot]):
    """Open a transcript for reading, or raise ``Skipped``.

    Only regular files are read: a FIFO would block the reader forever and a
    link to /dev/zero would fill the disk.  A symlink is followed only when
    its target lies inside a watched root (roots may themselves be links), so
    a link to /etc/passwd is never archived or served.  O_NONBLOCK makes the
    open itself return at once on a FIFO swapped in after the check."""
    real = os.path.realpath(path)
    if not inside(real, [os.path.realpath(r.scope) for r in roots]):
        raise Skipped(f"links to {real}, outside the watched folders")
    fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise Skipped(f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'special file')})")
    return os.fdopen(fd, "rb", buffering=0)
