"""Command line: ``zergd`` runs the archive (import, reindex, later the
daemon); ``zerg`` reads it (export, sessions, search).  Each command is a few
lines over the library."""

from __future__ import annotations

import datetime as dt
import sys
from contextlib import contextmanager

import click
import orjson

from .config import ConfigError, load_settings
from .index import export as export_mod
from .index.db import connect
from .index.queries import HIGHLIGHT, list_sessions, search
from .index.writer import Writer


def _settings():
    try:
        return load_settings()
    except ConfigError as e:
        raise click.ClickException(f"bad config file: {e}") from e


@contextmanager
def _progress(label: str, total: int):
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TextColumn("{task.fields[files]} files"), TimeRemainingColumn()]
    with Progress(*columns, transient=False, console=None, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(label, total=total, files=0)
        yield bar, task


@click.group()
@click.version_option(package_name="zerg")
def zergd():
    """zergd: keep every Claude Code and Codex session, byte for byte."""


@zergd.command(name="import")
def import_():
    """Archive and index every transcript once, from where the last run stopped."""
    from .watch.backfill import backfill, plan

    settings = _settings()
    db = connect(settings.index_path, settings.archive_dir)
    writer = Writer(db)
    todo = plan(settings, writer)
    with _progress("importing", sum(p for *_, p in todo)) as (bar, task):
        report = backfill(
            settings, writer,
            on_bytes=lambda n: bar.advance(task, n),
            on_file=lambda _p: bar.update(task, files=bar.tasks[0].fields["files"] + 1),
        )
    deleted = f", {len(report.deleted)} sources gone (kept in archive)" if report.deleted else ""
    for path, why in report.errors:
        click.echo(f"skipped {path}: {why}", err=True)
    click.echo(f"{report.files} files, {report.changed} changed, {report.bytes:,} new bytes{deleted}", err=True)


@zergd.command()
def reindex():
    """Rebuild the index from the archive alone."""
    from .index.rebuild import archived_files, rebuild

    settings = _settings()
    total = sum(p.stat().st_size for gens in archived_files(settings.archive_dir).values() for _g, p in gens)
    with _progress("reindexing", total) as (bar, task):
        rebuild(settings, on_bytes=lambda n: bar.advance(task, n))
    click.echo(f"rebuilt {settings.index_path}", err=True)


# --- zerg --------------------------------------------------------------------


def _reader():
    settings = _settings()
    if not settings.index_path.exists():
        raise click.ClickException(f"no index at {settings.index_path}; run `zergd import` first")
    return settings, connect(settings.index_path, settings.archive_dir, readonly=True)


@click.group()
@click.version_option(package_name="zerg")
def zerg():
    """Read your archived sessions."""


@zerg.command()
@click.argument("session")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="write here, not stdout")
@click.option("--generation", type=int, help="an earlier generation of a rewritten source")
def export(session, output, generation):
    """Write SESSION's transcript exactly as archived.  SESSION is a session
    id, a unique prefix of one, or a source or archive file path."""
    settings, db = _reader()
    try:
        session_id, gen_from_path = export_mod.resolve_session(db.conn, settings, session)
        gens = export_mod.generations(db.conn, settings, session_id)
        chosen = export_mod.pick_generation(gens, generation if generation is not None else gen_from_path)
    except export_mod.LookupError_ as e:
        click.echo(f"Error: {e}", err=True)
        for candidate in e.candidates:
            click.echo(f"  {candidate}", err=True)
        sys.exit(2)
    if output:
        with open(output, "wb") as out:
            export_mod.copy_archived(chosen, out)
    else:
        export_mod.copy_archived(chosen, sys.stdout.buffer)
        sys.stdout.buffer.flush()


def _parse_since(value):
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        days = value[:-1] if value.endswith("d") else None
        if days and days.isdigit():
            when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=int(days))
        else:
            raise click.BadParameter("use a date like 2026-05-01 or a number of days like 7d") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@zerg.command()
@click.option("--project", help="cwd or project folder (substring)")
@click.option("--since", help="only sessions active since this date (2026-05-01) or days ago (7d)")
@click.option("--json", "as_json", is_flag=True, help="every field of every session, as JSON")
def sessions(project, since, as_json):
    """List sessions, newest first."""
    _settings_, db = _reader()
    rows = list_sessions(db.conn, project=project, since=_parse_since(since))
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    for s in rows:
        when = (s["last_ts"] or s["first_ts"] or "")[:16].replace("T", " ")
        kind = "  subagent" if s["is_subagent"] else ""
        gone = "  [source deleted]" if s["source_deleted_at"] else ""
        click.echo(f"{s['id']}  {when:16}  {s['project'] or s['project_dir'] or '-'}{kind}{gone}")
        click.echo(f"    {s['title'] or '(untitled)'}  · {s['user_messages']} prompts, "
                   f"{s['assistant_messages']} replies, {s['tool_calls']} tool calls")


@zerg.command(name="search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True)
@click.option("--raw", is_flag=True, help="pass QUERY to FTS5 unquoted (AND, OR, NEAR, column syntax)")
@click.option("--json", "as_json", is_flag=True)
def search_cmd(query, limit, raw, as_json):
    """Full-text search over every archived line."""
    _settings_, db = _reader()
    try:
        hits = search(db.conn, query, limit=limit, raw=raw)
    except Exception as e:  # raw FTS syntax errors from --raw
        if raw and "fts5" in str(e).lower():
            raise click.ClickException(f"bad FTS5 query: {e}") from e
        raise
    if as_json:
        out = [dict(h.as_dict(), snippet=h.snippet.replace(HIGHLIGHT[0], "[").replace(HIGHLIGHT[1], "]"))
               for h in hits]
        sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")
        return
    color = sys.stdout.isatty()
    on, off = ("\x1b[1;33m", "\x1b[0m") if color else ("[", "]")
    for h in hits:
        snippet = " ".join(h.snippet.split()).replace(HIGHLIGHT[0], on).replace(HIGHLIGHT[1], off)
        click.echo(f"{h.session_id}  line {h.lineno}  {(h.ts or '')[:19].replace('T', ' ')}  {h.role or h.type or ''}")
        click.echo(f"    {snippet}")
    if not hits:
        click.echo("no matches", err=True)


@zergd.command()
def check():
    """Verify invariants I1-I5 (reads every archived byte; run while sources are quiet)."""
    from .invariants import check_all

    settings = _settings()
    db = connect(settings.index_path, settings.archive_dir)
    problems = check_all(db.conn, settings.archive_dir)
    for p in problems:
        click.echo(p, err=True)
    if problems:
        sys.exit(1)
    click.echo("ok: I1-I5 hold", err=True)
