"""The index's one face: ``open_index(settings)`` gives an ``Index`` with one
``writer()`` and pooled ``reader()``s, over SQLite (a file, the default) or
PostgreSQL (``--database postgresql://…`` / ``database.url``).  Callers never
see SQL, a connection or a packed line id."""

from __future__ import annotations

from pathlib import Path

from ..errors import BadQuery
from .base import Index

PG_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(url: str | None) -> bool:
    return bool(url) and url.startswith(PG_SCHEMES)


def open_index(settings, url: str | None = None) -> "Index":
    """The index ``url`` names (else the configured one, else the SQLite file
    in ZERG_HOME); nothing is created until a writer is asked for."""
    url = url or settings.database_url
    if is_postgres(url):
        from .pg import PgIndex

        return PgIndex(url, settings.archive_dir)
    if url and not url.startswith("sqlite:"):
        raise BadQuery(f"unknown database {url!r}: give a postgresql://… URL or sqlite:///path/to/index.db")
    # sqlite:///relative/path or sqlite:////absolute/path, as SQLAlchemy spells them
    path = Path(url.removeprefix("sqlite:///").removeprefix("sqlite:")) if url else settings.index_path
    from .sqlite import SqliteIndex

    return SqliteIndex(path, settings.archive_dir)


__all__ = ["Index", "is_postgres", "open_index"]
