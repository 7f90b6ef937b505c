"""Commands that read the index: sessions, search, stats, doctor, mcp, ask."""

from __future__ import annotations

import sys
from urllib.parse import quote

import click
import orjson

from ..client import probe
from ..config import ConfigError
from ..errors import BadQuery
from ..index import HIGHLIGHT, SessionFilter
from ..transcript import NAMES
from .base import database_option, filter_text, get_settings, index_reader, parse_since, parse_until, plural, zerg


@zerg.command()
@click.option("--json", "as_json", is_flag=True)
def doctor(as_json):
    """Check what people get wrong, one line each with its fix: the daemon,
    the watched folders, Claude Code's cleanupPeriodDays, disk space, the
    index's health (zergd check --quick), chat and MCP.  Exit 1 if something
    is broken (a warning alone exits 0)."""
    from ..doctor import FAIL, diagnose

    findings = diagnose(get_settings(), probe=probe)
    if as_json:
        click.echo(orjson.dumps([f.as_dict() for f in findings], option=orjson.OPT_INDENT_2).decode())
    else:
        for f in findings:
            click.echo(f.line())
    if any(f.status == FAIL for f in findings):
        sys.exit(1)


@zerg.command()
@click.option("--user", metavar="USER", help="on a team server: only what USER may read (their sessions and what"
                                             " was shared with them); reads of others' are audited")
def mcp(user):
    """Serve the archive to a coding agent over MCP (stdio): search, recall,
    list, read and usage tools.  Register it with
    `claude mcp add zergd -- zerg mcp` (Codex: `codex mcp add zergd -- zerg mcp`).
    Reads the index whether or not the daemon runs; never writes."""
    import importlib.util

    if importlib.util.find_spec("mcp") is None:
        raise click.ClickException("zerg mcp needs the mcp extra: pip install 'zergd[mcp]'")
    from ..mcp_server import serve

    try:
        serve(get_settings(), user=user)
    except ValueError as e:
        raise click.ClickException(str(e)) from None


@zerg.command()
@click.option("--project", callback=filter_text, help="cwd or project folder (substring)")
@click.option("--since", help="only sessions active since this date (2026-05-01) or days ago (7d)")
@click.option("--deleted", is_flag=True, help="only sessions whose source file is gone (kept in the archive)")
@click.option("--machine", callback=filter_text,
              help="only sessions that ran on this machine (this one, or one that ships here)")
@click.option("--entrypoint", callback=filter_text, help="only sessions run from here: cli, vscode, desktop, ...")
@click.option("--subagents", is_flag=True, help="list subagents' transcripts too (they are listed under their parent)")
@click.option("--all", "everything", is_flag=True,
              help="also files with no conversation (empty, or only bookkeeping lines; archived all the same)")
@click.option("--json", "as_json", is_flag=True, help="every field of every session, as JSON")
@database_option
def sessions(project, since, machine, entrypoint, deleted, subagents, everything, as_json):
    """List sessions, newest first (subagents are counted under their parent)."""
    flt = SessionFilter(project=project, since=parse_since(since), deleted=deleted, subagents=subagents,
                        empty=everything, machine=machine, entrypoint=entrypoint)
    with index_reader() as (here, reader):
        rows, _next = reader.sessions(flt)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    if not rows:
        filtered = project or since or deleted
        click.echo("no sessions match" if filtered else "no sessions yet: start the daemon or run `zergd import`",
                   err=True)
        return
    for s in rows:
        when = (s["last_ts"] or s["first_ts"] or "")[:16].replace("T", " ")
        kind = "  subagent" if s["is_subagent"] else ""
        gone = f"  [source deleted {s['source_deleted_at'][:10]}, kept here]" if s["source_deleted_at"] else ""
        where = f"  [{s['host']}]" if s["host"] != here.host else ""
        click.echo(f"{s['id']}  {when:16}  {s['project'] or s['project_dir'] or '-'}{where}{kind}{gone}")
        click.echo(f"    {s['title'] or '(untitled)'}  · {plural(s['user_messages'], 'prompt')}, "
                   f"{plural(s['assistant_messages'], 'reply', 'replies')}, {plural(s['tool_calls'], 'tool call')}")


@zerg.command(name="search")
@click.argument("query")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="most hits shown")
@click.option("--per-session", default=3, show_default=True, type=click.IntRange(0),
              help="most hits from one session (0: no cap)")
@click.option("--raw", is_flag=True, help="pass QUERY to FTS5 unquoted (AND, OR, NEAR, column syntax)")
@click.option("--json", "as_json", is_flag=True)
@database_option
def search_cmd(query, limit, per_session, raw, as_json):
    """Full-text search over every archived line."""
    try:
        with index_reader() as (_settings_, reader):
            hits = reader.search(query, limit=limit, raw=raw, per_session=per_session)
    except (BadQuery, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        out = [dict(h.as_dict(), snippet=h.snippet.replace(HIGHLIGHT[0], "[").replace(HIGHLIGHT[1], "]"))
               for h in hits]
        sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")
        return
    color = sys.stdout.isatty()
    on, off = ("\x1b[1;33m", "\x1b[0m") if color else ("[", "]")
    # Each hit's place in the Timeline, when a daemon serves it here.
    live = probe(_settings_)
    base = live["url"].rstrip("/") if live else None
    for h in hits:
        snippet = " ".join(h.snippet.split()).replace(HIGHLIGHT[0], on).replace(HIGHLIGHT[1], off)
        click.echo(f"{(h.ts or '')[:16].replace('T', ' ') or '-':16}  {h.title or '(untitled)'}"
                   f"  ({h.role or h.type or 'line'}, line {h.lineno})")
        click.echo(f"    {snippet}")
        where = (f"{base}/s/{quote(h.session_id)}?q={quote(query)}#g{h.generation}-{h.offset}" if base
                 else f"session {h.session_id}")
        click.echo(f"    {where}")
    if not hits:
        click.echo("no matches", err=True)
    else:
        sessions = len({h.session_id for h in hits})
        click.echo(f"{plural(len(hits), 'hit')} in {plural(sessions, 'session')}"
                   + (f" (at most {per_session} from one session; --per-session 0 shows all)" if per_session else ""),
                   err=True)


@zerg.command(name="stats")
@click.option("--by", type=click.Choice(["day", "week", "month", "model", "project", "group", "session", "block"]),
              default="day", show_default=True,
              help="one row per this; group: config.toml's [projects.groups]; block: the 5-hour windows"
                   " Claude's plans meter (Claude Code only)")
@click.option("--since", help="from this date or time, or days ago (7d)")
@click.option("--until", help="up to the end of this date, or this time")
@click.option("--provider", type=click.Choice(NAMES), help="one agent's sessions only")
@click.option("--project", callback=filter_text, help="sessions whose project path has this in it")
@click.option("--tz", help="time zone for days (an IANA name like Europe/Berlin; default: this machine's)")
@click.option("--offline", is_flag=True, hidden=True, help="prices never come from the network (always so)")
@click.option("--json", "as_json", is_flag=True)
@database_option
def stats_cmd(by, since, until, provider, project, tz, offline, as_json):
    """Tokens and estimated cost in USD per day, week, month, model, project
    or session.  Claude usage counts each API response once (by message id
    and request id, the largest value of each field); Codex's running totals
    count by how much they rise.  Prices come from genai-prices' bundled
    table (offline); a model it does not know is shown without a price."""
    from ..prices import use_cache
    from ..usage import report

    try:
        with index_reader() as (settings, reader):
            use_cache(settings.home / "prices.json")
            found = report(reader, by, since=parse_since(since), until=parse_until(until), provider=provider,
                           project=project, tz=tz, groups=settings.project_groups)
    except BadQuery as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(found, option=orjson.OPT_INDENT_2) + b"\n")
        return
    # A row that used nothing (a day of only synthetic replies) says nothing.
    rows = [r for r in found["rows"] if r["total_tokens"] or r.get("web_searches")]
    if by == "block":
        _print_blocks(rows, found)
        return
    if not rows:
        click.echo("no usage recorded" + (" in that range" if since or until or provider or project else ""), err=True)
        return
    head = ("session" if by == "session" else by, "input", "output", "cache write", "cache read", "total", "cost")
    table = [head] + [(_stats_label(r, by), *(_n(r[k]) for k in ("input_tokens", "output_tokens",
              "cache_creation_tokens", "cache_read_tokens", "total_tokens")), _usd(r)) for r in rows]
    total = found["totals"]
    table.append(("total", *(_n(total[k]) for k in ("input_tokens", "output_tokens", "cache_creation_tokens",
                                                    "cache_read_tokens", "total_tokens")), _usd(total)))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for j, row in enumerate(table):
        if j == len(table) - 1:
            click.echo("  ".join("-" * w for w in widths))
        click.echo("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    prices = found["prices"]
    note = f"prices: genai-prices {prices['version']} (offline)"
    if total["price_unknown"]:
        note += f"; no price for {', '.join(total['price_unknown'])} (their tokens are counted, not their cost)"
    click.echo(note + f"; days in {found['time_zone']}", err=True)


def _print_blocks(rows: list[dict], found: dict) -> None:
    if not rows:
        click.echo("no usage recorded", err=True)
        return
    for r in rows:
        start = r["key"][:16].replace("T", " ")
        state = "ACTIVE" if r["active"] else "      "
        calls = f"{r['messages']:,} call{'' if r['messages'] == 1 else 's'}"
        click.echo(f"{start}  {state}  {_n(r['total_tokens']):>14} tokens  {calls:>12}  {_usd(r):>10}"
                   f"  {', '.join(r['models'])}")
    click.echo(f"5-hour windows, newest first, times in {found['time_zone']}; prices: genai-prices "
               f"{found['prices']['version']} (offline)", err=True)


def _stats_label(row: dict, by: str) -> str:
    if by == "session":
        return f"{row['key'][:36]}  {(row.get('title') or '(untitled)')[:40]}"
    return row["key"] or "(none)"


def _n(value: int) -> str:
    return f"{value:,}"


def _usd(row: dict) -> str:
    if row["cost_usd"] is None:
        return "unknown"
    return f"${row['cost_usd']:,.2f}" + (" +?" if row["price_unknown"] else "")


@zerg.command()
@click.argument("question")
@click.option("--thread", "thread_id", help="continue this chat thread")
def ask(question, thread_id):
    """Ask Oikos about your sessions; the answer streams here."""
    from ..daemon import running
    from ..oikos import chat_status

    settings = get_settings()
    status = chat_status(settings)
    if not status["available"]:
        click.echo(f"Error: {status['message']}", err=True)
        sys.exit(1)
    from ..oikos.agent import Oikos

    daemon = running(settings) or {}
    oikos = Oikos(settings, link_base=daemon.get("url") or "")
    try:
        if thread_id and not oikos.thread_exists(thread_id):
            click.echo(f"Error: no chat thread {thread_id!r}", err=True)
            sys.exit(2)
        thread_id = thread_id or oikos.new_thread()
        failed = False
        for event in oikos.ask(thread_id, question):
            if event["type"] == "text":
                click.echo(event["text"], nl=False)
            elif event["type"] == "tool":
                click.secho(f"\n[{event['label']}…]", err=True, dim=True)
            elif event["type"] == "error":
                click.echo(f"\nError: {event['message']}", err=True)
                failed = True
        click.echo()
        click.secho(f"thread {thread_id} · continue with: zerg ask --thread {thread_id} \"…\"", err=True, dim=True)
    finally:
        oikos.close()
    if failed:
        sys.exit(1)


@zerg.command("statusline")
def statusline_cmd():
    """One short line for Claude Code's status line: today's cost, the open
    5-hour window's cost and time left, and this session's cost (Claude Code
    passes the session as JSON on stdin).  In ~/.claude/settings.json:
    {"statusLine": {"type": "command", "command": "zerg statusline"}}"""
    from ..statusline import main

    main()
