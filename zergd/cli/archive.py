"""Commands that fill the archive and take from it: import, reindex, export, restore."""

from __future__ import annotations

import os
import sqlite3
import sys
from functools import partial
from pathlib import Path

import click

from ..errors import IndexUnavailable, NotReady
from ..index import export as export_mod
from ..session_files import tool_outputs
from ..transcript import PROVIDERS
from .base import (
    database_option,
    get_settings,
    holding_home,
    import_all,
    index_for,
    index_reader,
    lookup_failed,
    plural,
    progress,
    report_faults,
    zerg,
    zergd,
)


@zergd.command(name="import")
@database_option
def import_():
    """Archive and index every transcript once, from where the last run stopped."""
    settings = get_settings()
    with holding_home(settings, "import", "it keeps the archive current already"):
        report, faults = import_all(settings)
    errors = report_faults(faults.snapshot())
    deleted = f", {len(report.deleted)} sources gone (kept in archive)" if report.deleted else ""
    click.echo(f"{report.files} files, {report.changed} changed, {report.bytes:,} new bytes{deleted}", err=True)
    if errors:
        click.echo(f"{errors} file{'s' if errors != 1 else ''} could not be archived; run `zergd import` again "
                   "once fixed (nothing else was affected)", err=True)
        sys.exit(1)


@zergd.command()
@database_option
def reindex():
    """Rebuild the index from the archive alone (into --database, when given:
    how an archive moves between SQLite and PostgreSQL)."""
    from ..archivist.rebuild import archived_files, rebuild

    settings = get_settings()
    index_for(settings)  # a bad URL fails before the lock and the scan
    with holding_home(settings, "reindex", "stop it first (`zergd stop`)"):
        total = sum(p.stat().st_size for gens in archived_files(settings.archive_dir).values() for _g, p in gens)
        with progress("reindexing", total) as bar:
            try:
                built = rebuild(settings, on_bytes=bar.advance)
            except (OSError, IndexUnavailable) as e:
                raise click.ClickException(f"cannot rebuild the index: {e}") from None
    click.echo(f"rebuilt {built.describe()}", err=True)


@zerg.command()
@click.argument("session")
@click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path),
              help="restore under DIR (as if it were Claude Code's projects/ or Codex's sessions/ folder)")
@click.option("--generation", type=click.IntRange(1), help="an earlier generation of a rewritten transcript")
@click.option("--dry-run", is_flag=True, help="say what would be written where; write nothing")
def restore(session, to, generation, dry_run):
    """Put SESSION's archived transcript back where Claude Code (or Codex)
    looks for it, byte for byte, with its subagents and their sidecars, so
    `claude --resume` (`codex resume`) works again after a cleanup deleted it.
    Never overwrites a different file."""
    import shlex

    from .. import restore as restore_mod

    try:
        with index_reader() as (settings, reader):
            session_id, gen_from_path = reader.resolve(session, settings)
            planned = restore_mod.plan(reader, settings, session_id, generation or gen_from_path, to)
            row = reader.session(session_id)
    except export_mod.SessionLookupError as e:
        lookup_failed(e)
    except restore_mod.RestoreConflict as e:  # nothing to restore
        raise click.ClickException(str(e)) from None
    try:
        todo = restore_mod.check(planned)
        if dry_run:
            for p in planned:
                click.echo(f"{'would write' if p in todo else 'already there'}: {p.target}")
            return
        written = restore_mod.write(planned)
    except restore_mod.RestoreConflict as e:
        raise click.ClickException(str(e)) from None
    except (OSError, export_mod.ArchiveUnreadable) as e:
        raise click.ClickException(f"cannot restore: {getattr(e, 'strerror', None) or e}") from None
    for path in written:
        click.echo(f"restored {path}", err=True)
    if len(written) < len(planned):
        click.echo(f"{plural(len(planned) - len(written), 'file')} already there, byte for byte", err=True)
    if row and row["host"] != settings.host:
        click.echo(f"(this session ran on {row['host']}; a daemon here archives the restored copy as this "
                   "machine's too)", err=True)
    # `--`: a project folder could start with '-' (cd would take it for an option).
    cd = f"cd -- {shlex.quote(row['project'])} && " if row and row.get("project") else ""
    # A subagent is resumed with the session that ran it, not on its own.
    resumed = row["parent_session_id"] if row and row.get("is_subagent") and row.get("parent_session_id") else session_id
    resume = PROVIDERS[row["provider"]].resume_command(resumed) if row and row["provider"] in PROVIDERS else None
    if resume:
        if resumed != session_id:
            click.echo(f"(a subagent: it resumes with the session that ran it, {resumed})", err=True)
        click.echo(f"{cd}{resume}")


@zerg.command()
@click.argument("session", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="write here, not stdout")
@click.option("--generation", type=click.IntRange(1), help="an earlier generation of a rewritten source")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "md", "html", "sqlite"]), default="jsonl", show_default=True,
              help="jsonl: SESSION's transcript byte for byte; md or html: SESSION to read (Markdown, or one "
                   "self-contained HTML file); sqlite: the whole index as one standalone SQLite file "
                   "(text included) for datasette or sqlite-utils, to -o FILE")
@click.option("--force", is_flag=True, help="with --format sqlite: replace FILE if it exists")
@database_option
def export(session, output, generation, fmt, force):
    """Write SESSION's transcript exactly as archived.  SESSION is a session
    id, a unique prefix of one, or a source or archive file path.  With
    --format md or html, write it as a document to read; with --format
    sqlite, write the whole index to -o FILE instead."""
    if fmt == "sqlite":
        _export_sqlite(session, output, generation, force)
        return
    if session is None:
        raise click.UsageError("give the SESSION to export (an id, a unique prefix of one, or a file path)")
    try:
        with index_reader() as (settings, reader):
            session_id, gen_from_path = reader.resolve(session, settings)
            gens = reader.generations(session_id)
            chosen = export_mod.pick_generation(gens, generation if generation is not None else gen_from_path)
            session_row = reader.session(session_id)
            outputs = tool_outputs(settings, reader, session_id)
    except export_mod.SessionLookupError as e:
        lookup_failed(e)
    copy = export_mod.copy_archived if fmt == "jsonl" else partial(_write_document, fmt, session_row, outputs)
    try:
        if output:
            with open(output, "wb") as out:
                copy(chosen, out)
        else:
            copy(chosen, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    except export_mod.ArchiveUnreadable as e:
        raise click.ClickException(str(e)) from None
    except BrokenPipeError:  # `zerg export ID | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except OSError as e:
        raise click.ClickException(f"cannot write {output or 'to stdout'}: {e.strerror or e}") from None


def _write_document(fmt, session, outputs, gen, out) -> None:
    from .. import document

    render = document.markdown if fmt == "md" else document.html_document
    with export_mod.open_archived(gen) as f:
        for piece in render(session, f, outputs):
            out.write(piece.encode())


def _export_sqlite(session, output, generation, force=False):
    from ..index.standalone import NotARegularFile, write_sqlite

    if session is not None or generation is not None:
        raise click.UsageError("--format sqlite exports the whole index: give no SESSION or --generation")
    if not output:
        raise click.UsageError("--format sqlite needs -o FILE (a database does not go to a terminal)")
    settings = get_settings()
    index = index_for(settings)
    try:
        counts = write_sqlite(index, Path(output), force=force)
    except NotARegularFile as e:
        raise click.ClickException(str(e)) from None
    except NotReady:
        raise click.ClickException(f"no index at {index.describe()}; run `zergd import` first") from None
    except OSError as e:  # sqlite3.OperationalError is not one; unwritable folders are
        raise click.ClickException(f"cannot write {output}: {e.strerror or e}") from None
    except sqlite3.OperationalError as e:
        raise click.ClickException(f"cannot write {output}: {e}") from None
    finally:
        index.close()
    click.echo(f"wrote {output}: {plural(counts['sessions'], 'session')}, {plural(counts['lines'], 'line')}, "
               f"{counts['lines_fts']:,} searchable", err=True)
