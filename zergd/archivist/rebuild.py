"""``zergd reindex``: build a new index from the archive alone, then swap it
in - on either backend (``--database URL`` moves an archive between them).

Everything the index holds is re-derived from archived bytes; only what the
archive cannot know is lost (when a source was noticed deleted becomes the
time of the rebuild; file identities are re-checked by content on next read).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path

from ..archive import parse_archive_rel
from ..archive.sidecars import SUFFIX, archived_versions, meta_fields, transcript_rel
from ..config import Settings
from ..index import Index, open_index
from ..index.parse import PARSER_VERSION
from ..index.writer import Writer
from ..transcript import describe
from .source import Archivist

log = logging.getLogger("zergd.reindex")


def archived_files(archive_dir: Path) -> dict[tuple[str, str, str], list[tuple[int, Path]]]:
    """(host, provider, rel) -> [(generation, archive file)] in generation order."""
    found = defaultdict(list)
    if not archive_dir.is_dir():
        return {}
    for dirpath, _dirs, files in os.walk(archive_dir):
        for name in files:
            path = Path(dirpath, name)
            parsed = parse_archive_rel(path.relative_to(archive_dir).as_posix())
            if parsed:
                host, provider, rel, gen = parsed
                found[(host, provider, rel)].append((gen, path))
    return {key: sorted(gens) for key, gens in sorted(found.items())}


def apply_sidecars(settings: Settings, writer: Writer) -> None:
    """Each subagent's newest archived sidecar, onto its session."""
    for first in sorted(settings.archive_dir.rglob(f"agent-*{SUFFIX}")):  # later generations end in .gen<N>
        host, provider, *rest = first.relative_to(settings.archive_dir).parts
        rel = "/".join(rest)
        newest = archived_versions(settings.archive_dir, host, provider, rel)[-1]
        writer.set_agent_meta(host, provider, transcript_rel(rel), *meta_fields(newest.read_bytes()))


def local_path(settings: Settings, provider: str, rel: str) -> Path:
    """Where this machine's file for an archived ``rel`` is: under whichever of
    the provider's roots has it (a Codex rollout may have moved from
    sessions/ to archived_sessions/, keeping its name), else the first root."""
    roots = [r.path for r in settings.source_roots() if r.provider == provider]
    for candidate in [root / rel for root in roots] + [root / Path(rel).name for root in roots[1:]]:
        if candidate.exists():
            return candidate
    return roots[0] / rel


def rebuild_if_stale(settings: Settings, index: Index) -> bool:
    """Re-derive ``index`` from the archive when an older parser made it
    (parse.PARSER_VERSION): new titles, counts and searchable text for old
    lines too.  True when it did."""
    found = index.writer().parser_version()
    if found >= PARSER_VERSION:
        return False
    log.info("the index was made by parser version %d, this is %d: re-deriving it from the archive",
             found, PARSER_VERSION)
    rebuild(settings, index=index)
    return True


def rebuild(settings: Settings, on_bytes=None, url: str | None = None, index: Index | None = None) -> Index:
    """Build the index ``url`` names (default: the configured one; or
    ``index`` itself) afresh beside the old one, then swap it in; returns it
    (closed: its next reader or writer opens the new one)."""
    target = index or open_index(settings, url)
    built = target.scratch()
    writer = built.writer()
    for (host, provider, rel), gens in archived_files(settings.archive_dir).items():
        path = local_path(settings, provider, rel) if host == settings.host else None
        source = writer.open_source(host, describe(provider, rel), str(path) if path else None)
        keeper = Archivist(writer, settings.archive_dir, source)
        for gen, apath in gens:
            while source.generation.gen < gen:
                keeper.seal()
            size = apath.stat().st_size
            keeper.index_archived(size)
            if on_bytes:
                on_bytes(size)
        if host == settings.host and (path is None or not path.exists()):
            writer.mark_deleted(source.session_id)
    apply_sidecars(settings, writer)
    writer.optimize()
    target.adopt(built)
    target.close()
    return target
