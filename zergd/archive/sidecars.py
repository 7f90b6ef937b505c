"""A session's own files in the archive, beside its transcript, each kept
whole: every distinct content a generation (``<name>``, then ``<name>.gen2``
…), never modified.  Claude Code deletes them with the session.

- Subagent sidecars, ``<session>/subagents/agent-<id>.meta.json`` (Claude
  Code >= 2.1.2): the agent's type and the description its Task call gave it.
- Tool results, ``<session>/tool-results/<tool use id>.txt`` (Claude Code >=
  2.1.2): a tool output too large for the transcript, whose tool_result then
  holds only a ``<persisted-output>`` preview.  Up to megabytes: copied in
  chunks, never read whole."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from . import TOOL_RESULTS, archive_rel

SUFFIX = ".meta.json"
MAX_BYTES = 1 << 20  # a subagent sidecar is a few hundred bytes; anything huge is not one
CHUNK = 1 << 20
# A tool result larger than this is archived but not shipped (a shipping
# request carries at most 64 MiB); status names it.
MAX_TOOL_RESULT = 32 << 20


def is_sidecar(name: str) -> bool:
    return name.startswith("agent-") and name.endswith(SUFFIX)


def is_tool_result(rel: str) -> bool:
    """A file in a session's tool-results folder (``<...>/<session>/tool-results/<name>``)."""
    parts = rel.split("/")
    return len(parts) >= 3 and parts[-2] == TOOL_RESULTS and not parts[-1].startswith(".")


def is_session_file(rel: str) -> bool:
    """One of a session's own files (a subagent sidecar or a tool result)."""
    return is_sidecar(rel.rsplit("/", 1)[-1]) or is_tool_result(rel)


def transcript_rel(rel: str) -> str:
    """The subagent transcript a sidecar describes."""
    return rel[: -len(SUFFIX)] + ".jsonl"


def archived_versions(archive_dir: Path, host: str, provider: str, rel: str) -> list[Path]:
    """The archived copies of one sidecar, oldest first."""
    found = []
    gen = 1
    path = archive_dir / archive_rel(host, provider, rel, gen)
    while path.exists():
        found.append(path)
        gen += 1
        path = archive_dir / archive_rel(host, provider, rel, gen)
    return found


def store(archive_dir: Path, host: str, provider: str, rel: str, data: bytes) -> bool:
    """Archive ``data`` unless it equals the newest copy; True if it was new."""
    versions = archived_versions(archive_dir, host, provider, rel)
    if versions and versions[-1].read_bytes() == data:
        return False
    write_version(archive_dir / archive_rel(host, provider, rel, len(versions) + 1), data)
    return True


def store_file(archive_dir: Path, host: str, provider: str, rel: str, src, size: int, mtime_ns: int) -> bool:
    """Archive the ``size`` bytes the open file ``src`` (last modified at
    ``mtime_ns``) holds unless they equal the newest copy, copying in chunks;
    True if it was new.  A copy of that size made after the file last changed
    is taken as equal without reading either (every rescan meets every file)."""
    versions = archived_versions(archive_dir, host, provider, rel)
    if versions:
        st = versions[-1].stat()
        if st.st_size == size and (st.st_mtime_ns > mtime_ns or _same(versions[-1], src)):
            return False

    def copy(out) -> None:
        src.seek(0)
        left = size
        while left > 0 and (chunk := src.read(min(CHUNK, left))):
            out.write(chunk)
            left -= len(chunk)

    _write_whole(archive_dir / archive_rel(host, provider, rel, len(versions) + 1), copy)
    return True


def _same(archived: Path, src) -> bool:
    """Whether ``src`` starts with the bytes of ``archived`` (their sizes are equal)."""
    src.seek(0)
    with open(archived, "rb") as f:
        while chunk := f.read(CHUNK):
            if src.read(len(chunk)) != chunk:
                return False
    return True


def tool_result(archive_dir: Path, host: str, provider: str, folder: str, tool_use_id: str) -> Path | None:
    """The newest archived copy of the tool result ``tool_use_id`` kept in the
    session folder ``folder`` (relative to the provider's root), if any."""
    names = _tool_result_names(archive_dir / host / provider / folder)
    named = [n for n in names if n.partition(".")[0] == tool_use_id]
    return archived_versions(archive_dir, host, provider, f"{folder}/{TOOL_RESULTS}/{named[0]}")[-1] if named else None


def tool_results(archive_dir: Path, host: str, provider: str, folder: str) -> list[tuple[str, Path]]:
    """(rel, newest archived copy) of every tool result of the session folder ``folder``."""
    rels = [f"{folder}/{TOOL_RESULTS}/{name}" for name in _tool_result_names(archive_dir / host / provider / folder)]
    return [(rel, archived_versions(archive_dir, host, provider, rel)[-1]) for rel in rels]


def _tool_result_names(session_folder: Path) -> list[str]:
    """The names (first versions) of the tool results archived in a session's folder."""
    try:
        return _first_versions(sorted(p.name for p in (session_folder / TOOL_RESULTS).iterdir()))
    except OSError:
        return []


def session_files_under(provider_dir: Path) -> list[str]:
    """The rels (first versions) of every session file archived under one
    provider's folder of one machine."""
    found = [p.relative_to(provider_dir).as_posix() for p in provider_dir.rglob(f"agent-*{SUFFIX}")]
    for folder in provider_dir.rglob(TOOL_RESULTS):
        if folder.is_dir():
            base = folder.relative_to(provider_dir).as_posix()
            found += [f"{base}/{name}" for name in _tool_result_names(folder.parent)]
    return sorted(found)


def max_bytes(rel: str) -> int:
    """The most one version of this session file may hold to be shipped."""
    return MAX_BYTES if is_sidecar(rel.rsplit("/", 1)[-1]) else MAX_TOOL_RESULT


def _first_versions(names: list[str]) -> list[str]:
    """The names of first versions among a folder's files (not ``.gen<N>``, not unfinished)."""
    present = set(names)

    def later(name: str) -> bool:
        stem, dot, gen = name.rpartition(".gen")
        return bool(dot) and gen.isdigit() and stem in present

    return [n for n in names if not n.endswith(".tmp") and not later(n)]


def write_version(target: Path, data: bytes) -> None:
    """One sidecar version, whole or not at all."""
    _write_whole(target, lambda out: out.write(data))


def _write_whole(target: Path, fill) -> None:
    """``fill(out)`` writes a file that appears at ``target`` whole or not at all."""
    tmp = target.with_name(target.name + ".tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        fill(out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)


def meta_fields(data: bytes) -> tuple[str | None, str | None]:
    """(agent type, description), whatever the file holds."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    kind, desc = obj.get("agentType"), obj.get("description")
    return (kind if isinstance(kind, str) else None), (desc[:300] if isinstance(desc, str) else None)
