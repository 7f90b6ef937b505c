"""What every command shares: the two groups (``zergd`` runs the archive,
``zerg`` reads it), settings, the options that go into the environment, a
progress bar, the index and its reader, and holding ZERG_HOME."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from contextlib import contextmanager

import click

from ..config import ConfigError, load_settings
from ..errors import BadQuery, IndexUnavailable, NotReady
from ..index import open_index, parse_when
from ..index.filters import MAX_FILTER_TEXT


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def get_settings():
    try:
        return load_settings()
    except ConfigError as e:
        raise click.ClickException(f"bad config file: {e}") from e


def env_option(name: str):
    """A click callback that puts the option into the environment: the daemon
    `zergd start` spawns inherits it there (a token never shows in `ps`)."""

    def callback(_ctx, _param, value):
        if value:
            os.environ[name] = str(value)
        return value

    return callback


database_option = click.option(
    "--database", metavar="URL", expose_value=False, callback=env_option("ZERG_DATABASE_URL"), is_eager=True,
    help="the index: postgresql://user@host/db (needs zergd[postgres]) or sqlite:///path; "
         "default ZERG_DATABASE_URL, [database] url in config.toml, else ZERG_HOME/index.db")


def ship_options(required: bool):
    def decorate(f):
        for option in reversed([
            click.option("--to", "--ship-to", "ship_to", metavar="URL", required=required, expose_value=False,
                         callback=env_option("ZERG_SHIP_TO"), is_eager=True,
                         help="the zergd to ship this machine's sessions to (default ZERG_SHIP_TO, [ship] to)"
                         if required else "also ship this machine's sessions to the zergd at URL, continuously"),
            click.option("--token", metavar="TOKEN", expose_value=False, callback=env_option("ZERG_SHIP_TOKEN"),
                         is_eager=True, help="its ingest token (`zergd token create` there); or ZERG_SHIP_TOKEN"),
            click.option("--token-file", metavar="FILE", expose_value=False, is_eager=True,
                         callback=env_option("ZERG_SHIP_TOKEN_FILE"), type=click.Path(dir_okay=False),
                         help="read the token from FILE (kept out of shell history and `ps`)"),
            click.option("--machine", metavar="NAME", expose_value=False, is_eager=True,
                         callback=env_option("ZERG_SHIP_MACHINE"),
                         help="the name this machine's sessions get there (default: this machine's)"),
        ]):
            f = option(f)
        return f

    return decorate


def server_options(f):
    """Options of a daemon that others reach (the team server)."""
    for option in reversed([
        click.option("--public-url", metavar="URL", expose_value=False, is_eager=True,
                     callback=env_option("ZERG_PUBLIC_URL"),
                     help="the URL people and other machines reach this zergd at (https://zerg.example.com);"
                          " the only Host and Origin served beyond loopback (ZERG_PUBLIC_URL, [server] public_url)"),
        click.option("--forwarded-allow-ips", metavar="IPS", expose_value=False, is_eager=True,
                     callback=env_option("ZERG_FORWARDED_ALLOW_IPS"),
                     help="proxies whose X-Forwarded-For/-Proto are believed (default 127.0.0.1: a TLS proxy"
                          " on this machine)"),
    ]):
        f = option(f)
    return f


def ship_target(settings):
    try:
        return settings.ship_target()
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def index_for(settings, url: str | None = None):
    try:
        return open_index(settings, url)
    except (BadQuery, ImportError) as e:
        raise click.ClickException(str(e)) from None


class Progress:
    """Bytes done of a total, with a rate and the files done, as click's
    progress bar on stderr; nothing at all when stderr is not a terminal."""

    def __init__(self, label: str, total: int):
        self.files = 0
        self.started = time.monotonic()
        self.bar = None
        if sys.stderr.isatty():
            self.bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr, show_pos=False,
                                         item_show_func=self._detail)

    def _detail(self, _item=None) -> str:
        done = self.bar.pos if self.bar else 0
        rate = done / max(time.monotonic() - self.started, 1e-3)
        return f"{done / 1e6:,.1f} MB, {rate / 1e6:,.1f} MB/s" + (f", {plural(self.files, 'file')}" if self.files else "")

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def file_done(self) -> None:
        self.files += 1

    def restart(self, total: int) -> None:
        """A new total, counted from nothing again (a shipper that learned what is left)."""
        if self.bar is not None:
            self.bar.length, self.bar.pos = max(total, 1), 0
            self.started = time.monotonic()


@contextmanager
def progress(label: str, total: int):
    progress = Progress(label, total)
    if progress.bar is None:
        yield progress
        return
    with progress.bar:
        yield progress


@click.group()
@click.version_option(package_name="zergd")
def zergd():
    """zergd: keep every Claude Code and Codex session, byte for byte."""


DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080


@contextmanager
def holding_home(settings, what: str, if_daemon: str):
    """Hold ZERG_HOME's instance lock while a command writes archive or index:
    never next to the daemon or another import/reindex."""
    from ..daemon import AlreadyRunning, acquire_lock

    try:
        lock = acquire_lock(settings, what)
    except AlreadyRunning as e:
        hint = if_daemon if e.is_daemon else "wait for it to finish"
        click.echo(f"Error: {e}; {hint}", err=True)
        sys.exit(1)
    try:
        yield
    finally:
        lock.release()


def report_faults(faults) -> int:
    """Print files set aside; return how many were errors (not deliberate skips)."""
    errors = 0
    for f in faults:
        label = "skipped" if f["kind"] == "skipped" else "could not archive"
        errors += f["kind"] != "skipped"
        click.echo(f"{label} {f['path']}: {f['reason']}", err=True)
    return errors


def import_all(settings):
    """Archive and index every transcript (the caller holds ZERG_HOME); (report, faults)."""
    from ..archivist.rebuild import rebuild_if_stale
    from ..watch.backfill import backfill, plan
    from ..watch.faults import Faults

    index = index_for(settings)
    try:
        if rebuild_if_stale(settings, index):
            click.echo("re-derived the index from the archive (it was made by an older zergd)", err=True)
        writer = index.writer()
    except IndexUnavailable as e:
        raise click.ClickException(str(e)) from None
    faults = Faults()
    todo, _seen = plan(settings, writer)
    try:
        with progress("importing", sum(t.pending for t in todo)) as bar:
            report = backfill(settings, writer, faults=faults, on_bytes=bar.advance, on_file=lambda _p: bar.file_done())
    except IndexUnavailable as e:
        report_faults(faults.snapshot())
        raise click.ClickException(f"stopped: {e}") from None
    finally:
        index.close()
    return report, faults


@contextmanager
def index_reader():
    """(settings, a Reader) for the zerg commands; a clear error when there is no index yet."""
    settings = get_settings()
    index = index_for(settings)
    try:
        with index.reader() as reader:
            yield settings, reader
    except NotReady:
        raise click.ClickException(f"no index at {index.describe()}; run `zergd import` first") from None
    except sqlite3.OperationalError as e:
        if "no such" not in str(e):
            raise
        # A daemon from an older zergd still serves the index: it migrates when restarted.
        raise click.ClickException(f"the index at {index.describe()} is older than this zerg ({e}); "
                                   "restart the daemon to upgrade it: zergd stop && zergd start") from None
    finally:
        index.close()


@click.group()
@click.version_option(package_name="zergd")
def zerg():
    """Read your archived sessions."""


def lookup_failed(e) -> None:
    """No such session, or a prefix that fits several: say which, exit 2."""
    click.echo(f"Error: {e}", err=True)
    for candidate in e.candidates:
        click.echo(f"  {candidate}", err=True)
    sys.exit(2)


def filter_text(_ctx, param, value):
    """A filter's text (project, branch, model, machine): at most as long as any can be."""
    if value is not None and len(value) > MAX_FILTER_TEXT:
        raise click.BadParameter(f"at most {MAX_FILTER_TEXT:,} characters", param=param)
    return value


def parse_since(value):
    if value is None:
        return None
    try:
        return parse_when(value)
    except BadQuery as e:
        raise click.BadParameter(str(e)) from None


def parse_until(value):
    if value is None:
        return None
    try:
        return parse_when(value, end_of_day=True)
    except BadQuery as e:
        raise click.BadParameter(str(e), param_hint="--until") from None
