"""Subagent sidecars in the archive: ``<session>/subagents/agent-<id>.meta.json``
(Claude Code >= 2.1.2) hold the agent's type and the description its Task
call gave it.  Claude Code deletes them with the session, so they are
archived too: small JSON files rewritten whole, each distinct content kept
as a generation (``agent-<id>.meta.json``, then ``.gen2`` …), never modified."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from . import archive_rel

SUFFIX = ".meta.json"
MAX_BYTES = 1 << 20  # a sidecar is a few hundred bytes; anything huge is not one


def is_sidecar(name: str) -> bool:
    return name.startswith("agent-") and name.endswith(SUFFIX)


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


def write_version(target: Path, data: bytes) -> None:
    """One sidecar version, whole or not at all."""
    tmp = target.with_name(target.name + ".tmp")
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
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
