"""Commands for sessions from other machines: ``zergd token`` on the side
that receives, ``zerg ship`` on the side that sends (``zergd start
--ship-to`` is in cli.py with the other daemon options)."""

from __future__ import annotations

import sys
import time

import click
import orjson

from .base import holding_home, import_all, index_for, progress, get_settings, ship_target, plural, ship_options, zerg, zergd


@zergd.group()
def token():
    """Tokens that let other machines ship sessions here (POST /api/ingest)."""


def _tokens():
    from ..ship.tokens import TokenStore

    return TokenStore(get_settings().home)


@token.command(name="create")
@click.argument("name")
@click.option("--machine", metavar="MACHINE", help="the one machine name it ships as (default: NAME)")
@click.option("--user", metavar="USER", help="whose sessions that machine's are (default: the first admin, this"
                                             " server's owner)")
def token_create(name, machine, user):
    """Make a token named NAME and print it (only this once: only its hash is kept).
    It writes only under its machine's name, for its user."""
    from ..accounts import AccountError, Accounts
    from ..ship.tokens import TokenError

    settings = get_settings()
    accounts = Accounts(settings.home)
    if user is not None:
        found = accounts.user(user)
        if found is None:
            raise click.ClickException(f"no user named {user!r} (zergd user add {user})")
        user = found.name
    taken = tuple(p.name for p in settings.archive_dir.iterdir() if p.is_dir()) if settings.archive_dir.is_dir() else ()
    try:
        machine = _tokens().check(name, machine=machine, user=user, own_host=settings.host, taken=taken)
        accounts.claim_machine(machine, user)
        value = _tokens().create(name, machine=machine, user=user, own_host=settings.host, taken=taken)
    except (TokenError, AccountError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(value)
    click.echo(f"token {name!r} made for machine {machine!r}" + (f" of {user}" if user else "")
               + ": ingest is on. It is shown only now; on that machine run\n"
               "  zerg ship --to http://THIS-HOST:PORT --token-file FILE   (or ZERG_SHIP_TOKEN=…)\n"
               "Beyond a LAN, put TLS in front of zergd or ship through an SSH tunnel.", err=True)


@token.command(name="list")
@click.option("--json", "as_json", is_flag=True)
def token_list(as_json):
    """The tokens: name, when made, when last used and by which machine."""
    from ..ship.tokens import TokenError

    try:
        tokens = _tokens().load()
    except TokenError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(orjson.dumps([{k: v for k, v in t.as_dict().items() if k != "sha256"} for t in tokens],
                                option=orjson.OPT_INDENT_2).decode())
        return
    if not tokens:
        click.echo("no tokens: ingest is off (zergd token create NAME turns it on)", err=True)
        return
    for t in tokens:
        used = f"last used {t.last_used} by {t.last_machine}" if t.last_used else "never used"
        owner = f" of {t.user}" if t.user else ""
        click.echo(f"{t.name}  machine {t.machine}{owner}  made {t.created}  {used}")


@token.command(name="revoke")
@click.argument("name")
def token_revoke(name):
    """Delete the token NAME: the machines using it are refused from now on."""
    from ..ship.tokens import TokenError

    store = _tokens()
    try:
        store.revoke(name)
        left = len(store.load())
    except TokenError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"revoked {name!r}" + ("" if left else "; no tokens left: ingest is off"), err=True)


@zerg.command()
@ship_options(required=True)
@click.option("--retries", default=4, show_default=True, type=click.IntRange(0, 100),
              help="times to retry when the other side cannot be reached (waiting 1, 2, 4 … seconds)")
def ship(retries):
    """Ship this machine's sessions to another zergd once, and exit: first
    archive what is new here (unless the daemon does that already), then send
    the other side every byte it does not have yet.  Safe to interrupt and
    run again: it resumes from what the other side acknowledged."""
    from ..daemon import running
    from ..ship.remote import ShipError, ShipUnavailable
    from ..ship.shipper import Shipper

    settings = get_settings()
    url, token, machine = ship_target(settings)
    if not running(settings):
        with holding_home(settings, "ship", "it keeps the archive current already"):
            import_all(settings)
    index = index_for(settings)
    try:
        shipper = Shipper(settings, url, token, machine, index=index)
    except ShipError as e:
        raise click.ClickException(str(e)) from None
    shipper.scan()
    failures = 0
    try:
        with progress(f"shipping to {shipper.url}", 1) as bar:
            shipper.on_bytes = bar.advance
            while True:
                try:
                    if not shipper.synced:
                        shipper.sync_state()
                    bar.restart(shipper.behind()[1])
                    report = shipper.ship(should_stop=lambda: False)
                    break
                except ShipUnavailable as e:
                    failures += 1
                    shipper.synced = False
                    if failures > retries:
                        files, left = shipper.behind()
                        raise click.ClickException(f"{e}; {plural(files, 'file')} ({left:,} bytes) not shipped yet: "
                                                   "run `zerg ship` again, it resumes") from None
                    delay = min(60.0, 2.0 ** (failures - 1))
                    click.echo(f"{e}; retrying in {delay:.0f}s", err=True)
                    time.sleep(delay)
    except ShipError as e:
        raise click.ClickException(str(e)) from None
    finally:
        shipper.close()
        index.close()
    for (provider, rel), why in sorted(report.conflicts.items()):
        click.echo(f"not shipped {provider}/{rel}: {why}", err=True)
    click.echo(f"shipped {report.bytes:,} new bytes in {plural(report.items, 'range')} to {shipper.url} as "
               f"{shipper.machine!r}; the other side now has everything"
               + (f" but {plural(len(report.conflicts), 'conflicting file')}" if report.conflicts else ""), err=True)
    if report.conflicts:
        sys.exit(1)
