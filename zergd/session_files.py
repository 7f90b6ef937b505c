"""A session's own files as its readers need them: the full output of a tool
result whose transcript keeps only a ``<persisted-output>`` preview, read
back from the archive (zergd.archive.sidecars keeps it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .archive import sidecars
from .config import Settings
from .transcript import PROVIDERS

# Tool use ids as the agents write them (toolu_01…, call_…): nothing that walks a path.
ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def session_folder(reader, session_id: str) -> tuple[str, str, str] | None:
    """(host, provider, folder) where ``session_id`` keeps its own files, if its agent keeps any."""
    host, provider, rel, _path = reader.source_of(session_id)
    agent = PROVIDERS.get(provider)
    folder = agent.session_folder(rel) if agent else None
    return (host, provider, folder) if folder else None


def _valid(tool_use_id) -> bool:
    return isinstance(tool_use_id, str) and 0 < len(tool_use_id) <= 200 and set(tool_use_id) <= ID_CHARS


def tool_output_file(settings: Settings, reader, session_id: str, tool_use_id: str) -> Path | None:
    """The archived full output of ``tool_use_id`` in ``session_id``, if kept."""
    where = session_folder(reader, session_id) if _valid(tool_use_id) else None
    return sidecars.tool_result(settings.archive_dir, *where, tool_use_id) if where else None


def tool_outputs(settings: Settings, reader, session_id: str) -> Callable[[str], str | None]:
    """``tool_use_id`` -> its full output as text (for documents and tools),
    or None; usable after ``reader`` is closed."""
    where = session_folder(reader, session_id)

    def full(tool_use_id) -> str | None:
        if where is None or not _valid(tool_use_id):
            return None
        path = sidecars.tool_result(settings.archive_dir, *where, tool_use_id)
        try:
            return path.read_bytes().decode("utf-8", "replace") if path else None
        except OSError:
            return None

    return full
