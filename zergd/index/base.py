"""What every index backend offers (``Index``): one writer per index, pooled
readers, integrity checks, and a scratch copy to rebuild into.  The
backends (sqlite.py, pg.py) implement it; store.open_index picks one."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from .writer import Writer


class Index:
    """What every backend offers.  One writer per index (the daemon's, or an
    import's, under the ZERG_HOME lock); readers from any thread."""

    kind = ""

    def __init__(self, archive_dir: Path):
        self.archive_dir = archive_dir
        self._writer: Writer | None = None

    def describe(self) -> str:
        """Where it lives, safe to print (no password)."""
        raise NotImplementedError

    def exists(self) -> bool:
        raise NotImplementedError

    def writer(self) -> Writer:
        """The writer, creating and migrating the index on first use."""
        raise NotImplementedError

    @contextmanager
    def reader(self):
        """A Reader on a pooled read connection; NotReady before the index exists."""
        raise NotImplementedError
        yield

    def integrity(self) -> list[str]:
        """The backend's own consistency checks (for `zergd check`)."""
        raise NotImplementedError

    def quick_integrity(self) -> list[str]:
        """A fast structural check of the index (no full-text re-derivation)."""
        return []

    def scratch(self) -> "Index":
        """An empty index of the same kind beside this one, to rebuild into
        while this one keeps serving; ``adopt`` swaps it in."""
        raise NotImplementedError

    def adopt(self, built: "Index") -> None:
        raise NotImplementedError

    def close_writer(self) -> None:
        """Drop the writer's connection (after an error: the next ``writer()`` reconnects)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
