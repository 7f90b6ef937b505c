"""``zerg restore SESSION``: put an archived transcript back where Claude
Code (or Codex) looks for it, byte for byte, so ``claude --resume <id>``
works again for a session its cleanup deleted.  Subagents' transcripts and
their sidecars come back with it.

Nothing existing is overwritten: a file already there with the same bytes
is left as it is, a different one stops the restore before anything is
written.  Each file is written beside its target and linked into place, so
a file appears whole or not at all.  A running daemon sees the restored
files and finds them identical to what it archived: nothing is archived twice.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from .archive.sidecars import SUFFIX, archived_versions, tool_results
from .config import Settings
from .errors import ZergError
from .index.rows import RECOVERED
from .index.export import Generation, copy_archived, pick_generation
from .invariants import file_sha256
from .session_files import session_folder


class RestoreConflict(ZergError):
    """A different file is where the archived one would go."""

    status = 409


@dataclass
class Planned:
    source: Generation | Path  # an archived generation, or a sidecar's archived version
    target: Path

    @property
    def archive(self) -> Path:
        return self.source.archive if isinstance(self.source, Generation) else self.source


def default_root(settings: Settings, provider: str, recorded: str | None) -> Path:
    """The folder the tool reads ``rel`` from: the root the source was in
    when it is one of this machine's roots, else the provider's first."""
    roots = [r.path for r in settings.source_roots() if r.provider == provider]
    if recorded:
        for root in roots:
            if Path(recorded).is_relative_to(root):
                return root
    return roots[0]


def plan(reader, settings: Settings, session_id: str, generation: int | None = None,
         to: Path | None = None) -> list[Planned]:
    """What restoring ``session_id`` writes where: its transcript (the newest
    generation, or ``generation``), then each subagent's newest and its
    sidecar, then the tool outputs the agent kept apart (tool-results/)."""
    session = reader.session(session_id) or {}
    if session.get("origin") == RECOVERED:
        raise RestoreConflict(f"session {session_id} is prompts only, recovered from the prompt history: no transcript"
                              " of it was ever archived, so there is nothing to resume (`zerg export` gives its prompts)")
    host, provider, rel, recorded = reader.source_of(session_id)
    root = to or default_root(settings, provider, recorded)
    planned = [Planned(pick_generation(reader.generations(session_id), generation), root / rel)]
    for sub in session.get("subagents", []):
        sub_host, sub_provider, sub_rel, _path = reader.source_of(sub["id"])
        planned.append(Planned(reader.generations(sub["id"])[-1], root / sub_rel))
        sidecar_rel = sub_rel[: -len(".jsonl")] + SUFFIX
        versions = archived_versions(settings.archive_dir, sub_host, sub_provider, sidecar_rel)
        if versions:
            planned.append(Planned(versions[-1], root / sidecar_rel))
    where = session_folder(reader, session_id)
    if where:
        planned += [Planned(newest, root / rel) for rel, newest in tool_results(settings.archive_dir, *where)]
    return planned


def check(planned: list[Planned]) -> list[Planned]:
    """The files still to write; RestoreConflict naming the first target
    that exists with other bytes."""
    todo = []
    for p in planned:
        if os.path.lexists(p.target):
            if p.target.is_file() and not p.target.is_symlink() and file_sha256(p.target) == file_sha256(p.archive):
                continue  # already there, byte for byte
            raise RestoreConflict(f"{p.target} exists and differs from the archived copy; nothing was restored "
                                  "(move it away, or restore elsewhere with --to DIR)")
        todo.append(p)
    return todo


def write(planned: list[Planned]) -> list[Path]:
    """Write every file not there yet (after ``check``); the targets written."""
    todo = check(planned)
    written = []
    for p in todo:
        p.target.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.target.with_name(f".{p.target.name}.zerg-restore-{os.getpid()}-{secrets.token_hex(4)}")
        try:
            # O_EXCL | O_NOFOLLOW: a link planted at the temporary name is never written through.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            raise RestoreConflict(f"{tmp} exists (placed there by someone else?); nothing was written there") from None
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(p.source, Generation):
                    copy_archived(p.source, out)
                else:
                    with open(p.source, "rb") as src:
                        shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            try:
                os.link(tmp, p.target)  # never replaces: a file that appeared meanwhile stays
            except FileExistsError:
                if file_sha256(p.target) != file_sha256(tmp):
                    raise RestoreConflict(f"{p.target} appeared while restoring, with other bytes; it was kept") \
                        from None
                continue
        finally:
            tmp.unlink(missing_ok=True)
        written.append(p.target)
    return written

