"""Which copy of a session holds its plain id, kept in the archive itself.

A session's id is the UUID its file is named by; a second file with the
same UUID (a copied project, a session Claude Code wrote twice) gets the id
qualified by a digest of its path.  Which copy was met first depends on the
order files were found, and a reindex walks in another order: so when such a
collision happens the assignment is appended here, and a rebuild from the
archive alone gives every copy the id it had (permalinks and
``zerg export <id>`` keep their meaning).  Append-only, one JSON line each;
only collisions are written, so an ordinary archive has no such file."""

from __future__ import annotations

from pathlib import Path

import orjson

from . import append

FILE = "session-ids.jsonl"


def record(archive_dir: Path, host: str, provider: str, rel: str, session_id: str) -> None:
    """Append one assignment, durably (before the index commits it)."""
    append(archive_dir / FILE, orjson.dumps({"host": host, "provider": provider, "rel": rel, "id": session_id}) + b"\n")


def load(archive_dir: Path) -> dict[tuple[str, str, str], str]:
    """(host, provider, rel) -> the id recorded for it (the first record wins)."""
    found: dict[tuple[str, str, str], str] = {}
    try:
        data = (archive_dir / FILE).read_bytes()
    except FileNotFoundError:
        return found
    for line in data.splitlines():
        try:
            row = orjson.loads(line)
            found.setdefault((row["host"], row["provider"], row["rel"]), row["id"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # a torn last line (a crash mid-append) names nothing
    return found
