"""Commands for a team server's people: ``zergd user`` (who signs in),
``zergd grant`` / ``ungrant`` (who sees whose sessions), ``zergd audit``
(who read someone else's).  They change ``ZERG_HOME/accounts.db``, which the
running daemon reads on every request: no restart needed."""

from __future__ import annotations

import sys

import click
import orjson

from ..accounts import AccountError, Accounts, fold
from ..accounts.store import EVERYONE
from .base import get_settings, zergd


def _accounts() -> Accounts:
    return Accounts(get_settings().home)


def _password(password_stdin: bool, prompt: str) -> str:
    if password_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise click.ClickException("no password on standard input")
        return value
    if not sys.stdin.isatty():
        raise click.ClickException("no terminal to ask the password on: pipe it with --password-stdin")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@zergd.group()
def user():
    """The people who sign in to this zergd when it serves others (a team server)."""


@user.command(name="add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="may manage the server and see everyone's usage (not their sessions)")
@click.option("--password-stdin", is_flag=True, help="read the password from standard input, not the terminal")
def user_add(name, admin, password_stdin):
    """Add a user NAME; asks for the password (Argon2id-hashed; at least 8 characters).
    The first admin owns this machine's own sessions."""
    accounts = _accounts()
    first = accounts.first_admin() is None and admin
    try:
        added = accounts.add_user(name, _password(password_stdin, f"password for {name}"), admin=admin)
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    role = "admin" if added.admin else "member"
    click.echo(f"user {added.name!r} added ({role})" + (": owns this machine's own sessions" if first else ""),
               err=True)


@user.command(name="list")
@click.option("--json", "as_json", is_flag=True)
def user_list(as_json):
    """Every user: name, admin or member, when added."""
    users = _accounts().users()
    if as_json:
        click.echo(orjson.dumps([u.as_dict() for u in users], option=orjson.OPT_INDENT_2).decode())
        return
    if not users:
        click.echo("no users: this zergd serves only this machine (zergd user add NAME --admin)", err=True)
    for u in users:
        click.echo(f"{u.name}  {'admin' if u.admin else 'member'}  added {u.created}")


@user.command(name="passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="read the new password from standard input")
def user_passwd(name, password_stdin):
    """Set NAME's password (signs out every browser they were signed in on)."""
    try:
        _accounts().set_password(name, _password(password_stdin, f"new password for {name}"))
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"password of {name!r} changed", err=True)


@user.command(name="remove")
@click.argument("name")
def user_remove(name):
    """Remove NAME: signed out, their grants gone.  Their machines' sessions stay archived."""
    try:
        _accounts().remove_user(name)
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"user {name!r} removed", err=True)


def _owner(accounts: Accounts, owner: str | None) -> str:
    if owner:
        return owner
    first = accounts.first_admin()
    if first is None:
        raise click.ClickException("no users yet: zergd user add NAME --admin")
    return first.name


def _session(ref: str) -> tuple[str, str]:
    """(machine, id) of a session of the index."""
    from .base import index_reader

    with index_reader() as r:
        brief = r.session_brief(ref)
    if brief is None:
        raise click.ClickException(f"no session {ref!r} (give its whole id: zerg sessions --json)")
    return brief["host"], brief["id"]


@zergd.command()
@click.argument("project", required=False)
@click.option("--session", "session_id", metavar="ID", help="share one session (and its subagents) instead")
@click.option("--to", "to", metavar="USER", help="the user to share with, or 'everyone' signed in")
@click.option("--owner", metavar="USER", help="whose project it is (default: the first admin)")
@click.option("--list", "listing", is_flag=True, help="list what is shared with whom")
@click.option("--json", "as_json", is_flag=True)
def grant(project, session_id, to, owner, listing, as_json):
    """Share a PROJECT (its cwd, as `zerg sessions` shows it) of one user's
    machines, or one --session, with --to USER or everyone.  Revoke with
    `zergd ungrant`."""
    accounts = _accounts()
    if listing:
        grants = [g.as_dict() for g in accounts.grants()]
        if as_json:
            click.echo(orjson.dumps(grants, option=orjson.OPT_INDENT_2).decode())
        for g in [] if as_json else grants:
            what = f"project {g['project']}" if g["project"] else f"session {g['session']}"
            click.echo(f"{g['owner']}: {what} -> {g['to']}  (since {g['created']})")
        return
    if not to or (project is None) == (session_id is None):
        raise click.ClickException("give a PROJECT or --session ID, and --to USER (or --to everyone)")
    try:
        if session_id:
            host, sid = _session(session_id)
            from ..api.access import Access

            who = Access(get_settings(), "127.0.0.1", 1, serving=False).owner(host)
            if who is None:
                raise click.ClickException(f"session {sid} is from machine {host!r}, which belongs to no user")
            made = accounts.grant(who, to, session=(host, sid))
        else:
            made = accounts.grant(_owner(accounts, owner), to, project=project)
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    d = made.as_dict()
    what = f"project {d['project']!r}" if d["project"] else f"session {d['session']}"
    click.echo(f"{d['owner']}'s {what} is shared with {d['to']}", err=True)


@zergd.command()
@click.argument("project", required=False)
@click.option("--session", "session_id", metavar="ID")
@click.option("--to", "to", metavar="USER", required=True, help="the user it was shared with, or 'everyone'")
@click.option("--owner", metavar="USER", help="whose project it is (default: the first admin)")
def ungrant(project, session_id, to, owner):
    """Stop sharing a PROJECT or --session with --to USER (or everyone)."""
    accounts = _accounts()
    if (project is None) == (session_id is None):
        raise click.ClickException("give a PROJECT or --session ID")
    try:
        if session_id:
            for g in accounts.grants():
                if g.session_id == session_id and g.grantee == (EVERYONE if to in (EVERYONE, "everyone") else fold(to)):
                    accounts.ungrant(g.owner, to, session_id=session_id)
                    break
            else:
                raise AccountError("no such grant (`zergd grant --list` shows them)")
        else:
            accounts.ungrant(_owner(accounts, owner), to, project=project)
    except AccountError as e:
        raise click.ClickException(str(e)) from None
    click.echo("no longer shared", err=True)


@zergd.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 1_000_000))
def audit(as_json, limit):
    """Every read of one user's session by another, newest first."""
    rows = _accounts().audit_log(limit)
    if as_json:
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not rows:
        click.echo("nobody has read another user's session", err=True)
    for r in rows:
        click.echo(f"{r['ts']}  {r['user']} {r['action']} {r['session']} (of {r['owner']})"
                   + (f" from {r['client']}" if r["client"] else ""))
