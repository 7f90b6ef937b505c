"""Unterminated last lines: a file whose last line has no newline and that
has not changed for a while gets that line indexed anyway (Claude Code
sometimes ends a file so); when the newline comes, the line is finished,
not indexed twice."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from .. import archive
from ..index.feed import TAIL_CAP
from ..index.writer import Writer

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
