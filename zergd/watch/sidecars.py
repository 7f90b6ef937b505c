"""A session's own files on this machine (subagent sidecars, tool results):
read one like a transcript (only a regular file inside the roots), archive
it if it changed (zergd.archive.sidecars) and put a sidecar's fields on the
subagent's session."""

from __future__ import annotations

import os
from pathlib import Path

from ..archive.sidecars import (MAX_BYTES, is_session_file, is_tool_result, meta_fields, store, store_file,
                                transcript_rel)
from .sources import open_transcript

__all__ = ["is_session_file", "sync_session_file"]


def sync_session_file(writer, settings, provider: str, rel: str, path: Path) -> bool:
    """Archive one of a session's files if it changed; True if it did."""
    with open_transcript(path, settings.source_roots()) as f:
        st = os.fstat(f.fileno())
        if is_tool_result(rel):
            return store_file(settings.archive_dir, settings.host, provider, rel, f, st.st_size, st.st_mtime_ns)
        if st.st_size > MAX_BYTES:
            return False
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return False
    changed = store(settings.archive_dir, settings.host, provider, rel, data)
    writer.set_agent_meta(settings.host, provider, transcript_rel(rel), *meta_fields(data))
    return changed
