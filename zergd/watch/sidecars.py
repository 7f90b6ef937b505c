"""Subagent sidecars on this machine: read one like a transcript (only a
regular file inside the roots), archive it if it changed
(zergd.archive.sidecars) and put its fields on the subagent's session."""

from __future__ import annotations

import os
from pathlib import Path

from ..archive.sidecars import MAX_BYTES, is_sidecar, meta_fields, store, transcript_rel
from .sources import open_transcript

__all__ = ["is_sidecar", "sync_sidecar"]


def sync_sidecar(writer, settings, provider: str, rel: str, path: Path) -> bool:
    """Archive a sidecar if it changed and put its fields on the session."""
    with open_transcript(path, settings.source_roots()) as f:
        if os.fstat(f.fileno()).st_size > MAX_BYTES:
            return False
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return False
    changed = store(settings.archive_dir, settings.host, provider, rel, data)
    writer.set_agent_meta(settings.host, provider, transcript_rel(rel), *meta_fields(data))
    return changed
