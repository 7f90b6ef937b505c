"""Command line: ``zergd`` runs the archive (import, reindex, later the
daemon); ``zerg`` reads it (export, sessions, search).  Each command is a few
lines over the library."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import click
import orjson

from .config import ConfigError, load_settings
from .errors import BadQuery, IndexUnavailable, NotReady
from .index import HIGHLIGHT, SessionFilter, open_index, parse_when
from .index import export as export_mod


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def _settings():
    try:
        return load_settings()
    except ConfigError as e:
        raise click.ClickException(f"bad config file: {e}") from e


def _env_option(name: str):
    """A click callback that puts the option into the environment: the daemon
    `zergd start` spawns inherits it there (a token never shows in `ps`)."""

    def callback(_ctx, _param, value):
        if value:
            os.environ[name] = str(value)
        return value

    return callback


database_option = click.option(
    "--database", metavar="URL", expose_value=False, callback=_env_option("ZERG_DATABASE_URL"), is_eager=True,
    help="the index: postgresql://user@host/db (needs zergd[postgres]) or sqlite:///path; "
         "default ZERG_DATABASE_URL, [database] url in config.toml, else ZERG_HOME/index.db")


def ship_options(required: bool):
    def decorate(f):
        for option in reversed([
            click.option("--to", "--ship-to", "ship_to", metavar="URL", required=required, expose_value=False,
                         callback=_env_option("ZERG_SHIP_TO"), is_eager=True,
                         help="the zergd to ship this machine's sessions to (default ZERG_SHIP_TO, [ship] to)"
                         if required else "also ship this machine's sessions to the zergd at URL, continuously"),
            click.option("--token", metavar="TOKEN", expose_value=False, callback=_env_option("ZERG_SHIP_TOKEN"),
                         is_eager=True, help="its ingest token (`zergd token create` there); or ZERG_SHIP_TOKEN"),
            click.option("--token-file", metavar="FILE", expose_value=False, is_eager=True,
                         callback=_env_option("ZERG_SHIP_TOKEN_FILE"), type=click.Path(dir_okay=False),
                         help="read the token from FILE (kept out of shell history and `ps`)"),
            click.option("--machine", metavar="NAME", expose_value=False, is_eager=True,
                         callback=_env_option("ZERG_SHIP_MACHINE"),
                         help="the name this machine's sessions get there (default: this machine's)"),
        ]):
            f = option(f)
        return f

    return decorate


def server_options(f):
    """Options of a daemon that others reach (the team server)."""
    for option in reversed([
        click.option("--public-url", metavar="URL", expose_value=False, is_eager=True,
                     callback=_env_option("ZERG_PUBLIC_URL"),
                     help="the URL people and other machines reach this zergd at (https://zerg.example.com);"
                          " the only Host and Origin served beyond loopback (ZERG_PUBLIC_URL, [server] public_url)"),
        click.option("--forwarded-allow-ips", metavar="IPS", expose_value=False, is_eager=True,
                     callback=_env_option("ZERG_FORWARDED_ALLOW_IPS"),
                     help="proxies whose X-Forwarded-For/-Proto are believed (default 127.0.0.1: a TLS proxy"
                          " on this machine)"),
    ]):
        f = option(f)
    return f


def _ship_target(settings):
    try:
        return settings.ship_target()
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def _index(settings, url: str | None = None):
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
def _progress(label: str, total: int):
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


@zergd.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="address to listen on")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--wait", default=20.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="seconds to wait for it to answer")
@database_option
@ship_options(required=False)
@server_options
def start(host, port, wait):
    """Start the daemon in the background; return once it answers."""
    import subprocess

    from .daemon import AlreadyRunning, NotServable, Paths, acquire_lock, check_entry

    settings = _settings()
    _ship_target(settings)  # a missing token fails here, not in the background
    try:
        check_entry(settings, host, port)
    except NotServable as e:
        raise click.ClickException(str(e)) from None
    try:
        acquire_lock(settings).release()
    except AlreadyRunning as e:
        raise click.ClickException(str(e)) from None
    settings.home.mkdir(parents=True, exist_ok=True)
    out = settings.home / "zergd.out"
    with open(out, "ab") as log_out:
        # cwd: `python -m` looks in the current folder first, and whatever
        # folder `zergd start` was typed in must not decide which zergd runs.
        proc = subprocess.Popen(
            [sys.executable, "-m", "zergd", "run", "--host", host, "--port", str(port), "--background"],
            stdin=subprocess.DEVNULL, stdout=log_out, stderr=log_out, start_new_session=True, cwd=settings.home,
        )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            tail = out.read_bytes()[-2000:].decode("utf-8", "replace").strip().splitlines()
            message = tail[-1].removeprefix("Error: ") if tail else f"zergd exited with {code}"
            raise click.ClickException(message)
        info = _probe(settings)
        if info and info.get("pid") == proc.pid:
            click.echo(f"zergd running (pid {proc.pid}) at {info['url']}")
            click.echo(f"logs: {Paths.of(settings).log}", err=True)
            return
        time.sleep(0.05)
    proc.terminate()  # never leave behind a daemon that `zergd start` said failed
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    raise click.ClickException(f"zergd (pid {proc.pid}) did not answer within {wait:g}s and was stopped;"
                               " see `zergd logs`")


def _probe(settings, timeout=1.0) -> dict | None:
    """Ask the running daemon for its status over HTTP; None if it does not answer."""
    import http.client

    from .daemon import read_state

    state = read_state(settings)
    if not state:
        return None
    try:
        conn = http.client.HTTPConnection(state["host"] if state["host"] not in ("0.0.0.0", "::") else "127.0.0.1",
                                          state["port"], timeout=timeout)
        from .api.access import LOCAL_HEADER, local_key

        headers = {"Host": f"127.0.0.1:{state['port']}"}
        key = local_key(settings.home)
        if key:  # a team server: the CLI on its own machine signs in with the local key
            headers[LOCAL_HEADER] = key
        conn.request("GET", "/api/status", headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            return None
        info = orjson.loads(resp.read())
        info["url"] = state["url"]
        return info
    except (OSError, ValueError, KeyError):
        return None


@zergd.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@click.option("--background", is_flag=True, hidden=True)
@database_option
@ship_options(required=False)
@server_options
def run(host, port, background):
    """Run the daemon in the foreground (for systemd, launchd, containers)."""
    _run_foreground(host, port, background=background)


def _run_foreground(host, port, *, background=False, announce=False):
    from .daemon import AlreadyRunning, NotServable, PortBusy
    from .daemon import run as run_daemon

    settings = _settings()
    on_listening = (lambda url: click.echo(f"zergd serving the Timeline at {url} (Ctrl-C stops it)")) if announce else None
    try:
        sys.exit(run_daemon(settings, host, port, foreground=not background, on_listening=on_listening))
    except (AlreadyRunning, PortBusy, ConfigError, NotServable) as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)


@zergd.command()
@click.option("--timeout", default=30.0, show_default=True)
def stop(timeout):
    """Stop the daemon gracefully (the current transaction finishes)."""
    import os
    import signal

    from .daemon import running

    settings = _settings()
    info = running(settings)
    if not info or not info.get("pid"):
        click.echo("zergd is not running", err=True)
        return
    pid = info["pid"]
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not running(settings):
            click.echo(f"stopped zergd (pid {pid})")
            return
        time.sleep(0.05)
    raise click.ClickException(f"zergd (pid {pid}) did not stop within {timeout:g}s")


@zergd.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json):
    """Is the daemon running?  Exit 0 if so, 3 if not."""
    from .daemon import running

    settings = _settings()
    info = running(settings)
    if not info:
        if as_json:
            click.echo(orjson.dumps({"running": False, "pid": None, "url": None, "backlog": None}).decode())
        else:
            click.echo("zergd is not running")
        sys.exit(3)
    live = _probe(settings) or {}
    report = {"running": True, **info, **live}
    if as_json:
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    uptime = live.get("uptime_s")
    click.echo(f"zergd running (pid {report.get('pid')}) at {report.get('url')}")
    if live:
        click.echo(f"  {live['state']}, up {uptime:.0f}s; {live['sessions']:,} sessions, {live['lines']:,} lines;"
                   f" backlog {live['backlog']}")
        progress = live.get("backfill")
        if progress:
            done, total = progress["bytes_done"], progress["bytes_total"]
            eta = f", about {progress['eta_s']:.0f}s left" if progress.get("eta_s") else ""
            click.echo(f"  backfill: {progress['files_done']:,} of {progress['files_total']:,} files, "
                       f"{done / 1e6:,.1f} of {total / 1e6:,.1f} MB ({progress['bytes_per_s'] / 1e6:.1f} MB/s{eta})")
        if live.get("index"):
            click.echo(f"  index: {live['index']['where']} ({live['index']['kind']})")
        for root in live["roots"]:
            click.echo(f"  watching {root['provider']}: {root['path']}{'' if root['exists'] else ' (not there yet)'}")
        _echo_shipping(live)
        faults = live.get("faults") or []
        if faults:
            click.echo(f"  {len(faults)} file{'s' if len(faults) != 1 else ''} set aside:")
            for f in faults:
                click.echo(f"    {f['kind']:8} {f['path']}: {f['reason']}")
    else:
        click.echo("  (not answering over HTTP yet)")


def _echo_shipping(live: dict) -> None:
    """Where this machine ships to and how far behind it is; which machines ship here."""
    ship = live.get("shipping")
    if ship:
        behind = (f"{plural(ship['files_behind'], 'file')} ({ship['bytes_behind'] / 1e6:,.1f} MB) behind"
                  if ship["files_behind"] else "nothing behind")
        when = f"; last delivery {time.time() - ship['last_ok']:.0f}s ago" if ship.get("last_ok") else ""
        click.echo(f"  shipping to {ship['to']} as {ship['machine']!r}: {ship['state']}, {behind}{when}")
        if ship.get("error"):
            retry = f" (retrying in {ship['retry_in_s']:.0f}s)" if ship.get("retry_in_s") is not None else ""
            click.echo(f"    {ship['error']}{retry}")
        for c in ship.get("conflicts") or []:
            click.echo(f"    not shipped {c['provider']}/{c['rel']}: {c['reason']}")
    others = [m for m in live.get("machines") or [] if m["machine"] != live.get("machine")]
    if others:
        click.echo("  sessions from other machines:")
    for m in others:
        seen = ""
        if m.get("last_delivery"):
            behind = m.get("bytes_behind")
            seen = (f"; last delivery {time.time() - m['last_delivery']:.0f}s ago, "
                    + ("nothing behind" if behind == 0 else f"{behind / 1e6:,.1f} MB behind" if behind else "")).rstrip(", ")
        click.echo(f"    {m['machine']}: {plural(m['sessions'], 'session')}{seen}")


@zergd.command()
@click.option("-f", "--follow", is_flag=True, help="keep printing new lines")
@click.option("-n", "--lines", "count", default=50, show_default=True, type=click.IntRange(0),
              help="how many of the last lines to print first")
def logs(follow, count):
    """Print the daemon's log."""
    from .daemon import Paths

    path = Paths.of(_settings()).log
    if not path.exists():
        raise click.ClickException(f"no log yet at {path}")
    with open(path, "rb") as f:
        lines = f.read().splitlines()
        for line in lines[len(lines) - count:] if count else []:
            click.echo(line.decode("utf-8", "replace"))
        while follow:
            chunk = f.readline()
            if chunk:
                click.echo(chunk.decode("utf-8", "replace"), nl=False)
            else:
                time.sleep(0.2)


@zergd.group()
def service():
    """Run zergd at login: a systemd user unit (Linux) or a launchd agent (macOS)."""


@service.command(name="install")
@click.option("--host", default=DEFAULT_HOST, show_default=True)
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535))
@click.option("--dry-run", is_flag=True, help="print the file and the commands; change nothing")
@click.option("--no-start", is_flag=True, help="write the file but do not enable or start it")
def service_install(host, port, dry_run, no_start):
    """Install the service that runs `zergd run` at login and restarts it on failure."""
    from . import autostart
    from .daemon import NotServable, check_entry

    settings = _settings()
    try:
        check_entry(settings, host, port)  # a team server's users and public URL: in config.toml for a service
        unit = autostart.service_file(settings, host, port)
    except NotServable as e:
        raise click.ClickException(str(e)) from None
    except autostart.Unsupported as e:
        raise click.ClickException(str(e)) from None
    if dry_run:
        click.echo(f"# {unit.path}")
        click.echo(unit.text, nl=False)
        for cmd in unit.enable:
            click.echo(f"# then: {autostart.shell(cmd)}")
        return
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    settings.home.mkdir(parents=True, exist_ok=True)  # its working folder
    unit.path.write_text(unit.text, "utf-8")
    click.echo(f"wrote {unit.path}")
    if no_start:
        click.echo(f"start it with: {' && '.join(autostart.shell(c) for c in unit.enable)}")
        return
    failed = autostart.run_all(unit.enable)
    if failed:
        raise click.ClickException(f"the service file is in place but could not be started: {failed}")
    click.echo("enabled: zergd now runs at login and restarts if it fails")


@service.command(name="uninstall")
@click.option("--dry-run", is_flag=True, help="say what would be removed; change nothing")
def service_uninstall(dry_run):
    """Stop the service and remove its file (the archive is untouched)."""
    from . import autostart

    settings = _settings()
    try:
        unit = autostart.service_file(settings, DEFAULT_HOST, DEFAULT_PORT)
    except autostart.Unsupported as e:
        raise click.ClickException(str(e)) from None
    if not unit.path.exists():
        click.echo(f"no service installed ({unit.path} does not exist)", err=True)
        return
    if dry_run:
        click.echo(f"would run: {'; '.join(autostart.shell(c) for c in unit.disable)}; and remove {unit.path}")
        return
    failed = autostart.run_all(unit.disable)
    unit.path.unlink()
    click.echo(f"removed {unit.path}" + (f" (stopping it said: {failed})" if failed else ""))


@contextmanager
def _holding_home(settings, what: str, if_daemon: str):
    """Hold ZERG_HOME's instance lock while a command writes archive or index:
    never next to the daemon or another import/reindex."""
    from .daemon import AlreadyRunning, acquire_lock

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


def _report_faults(faults) -> int:
    """Print files set aside; return how many were errors (not deliberate skips)."""
    errors = 0
    for f in faults:
        label = "skipped" if f["kind"] == "skipped" else "could not archive"
        errors += f["kind"] != "skipped"
        click.echo(f"{label} {f['path']}: {f['reason']}", err=True)
    return errors


def _import_all(settings):
    """Archive and index every transcript (the caller holds ZERG_HOME); (report, faults)."""
    from .archivist.rebuild import rebuild_if_stale
    from .watch.backfill import backfill, plan
    from .watch.faults import Faults

    index = _index(settings)
    try:
        if rebuild_if_stale(settings, index):
            click.echo("re-derived the index from the archive (it was made by an older zergd)", err=True)
        writer = index.writer()
    except IndexUnavailable as e:
        raise click.ClickException(str(e)) from None
    faults = Faults()
    todo, _seen = plan(settings, writer)
    try:
        with _progress("importing", sum(t.pending for t in todo)) as bar:
            report = backfill(settings, writer, faults=faults, on_bytes=bar.advance, on_file=lambda _p: bar.file_done())
    except IndexUnavailable as e:
        _report_faults(faults.snapshot())
        raise click.ClickException(f"stopped: {e}") from None
    finally:
        index.close()
    return report, faults


@zergd.command(name="import")
@database_option
def import_():
    """Archive and index every transcript once, from where the last run stopped."""
    settings = _settings()
    with _holding_home(settings, "import", "it keeps the archive current already"):
        report, faults = _import_all(settings)
    errors = _report_faults(faults.snapshot())
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
    from .archivist.rebuild import archived_files, rebuild

    settings = _settings()
    _index(settings)  # a bad URL fails before the lock and the scan
    with _holding_home(settings, "reindex", "stop it first (`zergd stop`)"):
        total = sum(p.stat().st_size for gens in archived_files(settings.archive_dir).values() for _g, p in gens)
        with _progress("reindexing", total) as bar:
            try:
                built = rebuild(settings, on_bytes=bar.advance)
            except (OSError, IndexUnavailable) as e:
                raise click.ClickException(f"cannot rebuild the index: {e}") from None
    click.echo(f"rebuilt {built.describe()}", err=True)


# --- zerg --------------------------------------------------------------------


@contextmanager
def _reader():
    """(settings, a Reader) for the zerg commands; a clear error when there is no index yet."""
    settings = _settings()
    index = _index(settings)
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


@zerg.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="address to listen on")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@database_option
@server_options
def serve(host, port):
    """Run the daemon and the Timeline in the foreground (the same as `zergd run`)."""
    _run_foreground(host, port, announce=True)


def _lookup_failed(e) -> None:
    """No such session, or a prefix that fits several: say which, exit 2."""
    click.echo(f"Error: {e}", err=True)
    for candidate in e.candidates:
        click.echo(f"  {candidate}", err=True)
    sys.exit(2)


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

    from . import restore as restore_mod

    try:
        with _reader() as (settings, reader):
            session_id, gen_from_path = reader.resolve(session, settings)
            planned = restore_mod.plan(reader, settings, session_id, generation or gen_from_path, to)
            row = reader.session(session_id)
    except export_mod.SessionLookupError as e:
        _lookup_failed(e)
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
    resume = f"codex resume {session_id}" if row and row["provider"] == "codex" else f"claude --resume {session_id}"
    click.echo(f"{cd}{resume}")


@zerg.command()
@click.option("--json", "as_json", is_flag=True)
def doctor(as_json):
    """Check what people get wrong, one line each with its fix: the daemon,
    the watched folders, Claude Code's cleanupPeriodDays, disk space, the
    index's health (zergd check --quick), chat and MCP.  Exit 1 if something
    is broken (a warning alone exits 0)."""
    from .doctor import FAIL, diagnose

    findings = diagnose(_settings(), probe=_probe)
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
    from .mcp_server import serve

    try:
        serve(_settings(), user=user)
    except ValueError as e:
        raise click.ClickException(str(e)) from None


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
        with _reader() as (settings, reader):
            session_id, gen_from_path = reader.resolve(session, settings)
            gens = reader.generations(session_id)
            chosen = export_mod.pick_generation(gens, generation if generation is not None else gen_from_path)
            session_row = reader.session(session_id)
    except export_mod.SessionLookupError as e:
        _lookup_failed(e)
    copy = export_mod.copy_archived if fmt == "jsonl" else partial(_write_document, fmt, session_row)
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


def _write_document(fmt, session, gen, out) -> None:
    from . import document

    render = document.markdown if fmt == "md" else document.html_document
    with export_mod.open_archived(gen) as f:
        for piece in render(session, f):
            out.write(piece.encode())


def _export_sqlite(session, output, generation, force=False):
    from .index.standalone import NotARegularFile, write_sqlite

    if session is not None or generation is not None:
        raise click.UsageError("--format sqlite exports the whole index: give no SESSION or --generation")
    if not output:
        raise click.UsageError("--format sqlite needs -o FILE (a database does not go to a terminal)")
    settings = _settings()
    index = _index(settings)
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


def _parse_since(value):
    if value is None:
        return None
    try:
        return parse_when(value)
    except BadQuery as e:
        raise click.BadParameter(str(e)) from None


@zerg.command()
@click.option("--project", help="cwd or project folder (substring)")
@click.option("--since", help="only sessions active since this date (2026-05-01) or days ago (7d)")
@click.option("--deleted", is_flag=True, help="only sessions whose source file is gone (kept in the archive)")
@click.option("--machine", help="only sessions that ran on this machine (this one, or one that ships here)")
@click.option("--subagents", is_flag=True, help="list subagents' transcripts too (they are listed under their parent)")
@click.option("--all", "everything", is_flag=True,
              help="also files with no conversation (empty, or only bookkeeping lines; archived all the same)")
@click.option("--json", "as_json", is_flag=True, help="every field of every session, as JSON")
@database_option
def sessions(project, since, machine, deleted, subagents, everything, as_json):
    """List sessions, newest first (subagents are counted under their parent)."""
    flt = SessionFilter(project=project, since=_parse_since(since), deleted=deleted, subagents=subagents,
                        empty=everything, machine=machine)
    with _reader() as (here, reader):
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
        with _reader() as (_settings_, reader):
            hits = reader.search(query, limit=limit, raw=raw, per_session=per_session)
    except BadQuery as e:
        raise click.ClickException(str(e)) from None
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


@zerg.command(name="stats")
@click.option("--by", type=click.Choice(["day", "week", "month", "model", "project", "session", "block"]),
              default="day", show_default=True,
              help="one row per this; block: the 5-hour windows Claude's plans meter (Claude Code only)")
@click.option("--since", help="from this date or time, or days ago (7d)")
@click.option("--until", help="up to the end of this date, or this time")
@click.option("--provider", type=click.Choice(["claude", "codex"]), help="one agent's sessions only")
@click.option("--project", help="sessions whose project path has this in it")
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
    from .prices import use_cache
    from .usage import report

    try:
        with _reader() as (settings, reader):
            use_cache(settings.home / "prices.json")
            found = report(reader, by, since=_parse_since(since), until=_parse_until(until), provider=provider,
                           project=project, tz=tz)
    except BadQuery as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(found, option=orjson.OPT_INDENT_2) + b"\n")
        return
    rows = found["rows"]
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
        click.echo(f"{start}  {state}  {_n(r['total_tokens']):>14} tokens  {r['messages']:>6,} calls  {_usd(r):>10}"
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


def _parse_until(value):
    if value is None:
        return None
    try:
        return parse_when(value, end_of_day=True)
    except BadQuery as e:
        raise click.BadParameter(str(e), param_hint="--until") from None


@zergd.command()
@click.option("--quick", is_flag=True, help="only what holds without reading archived bytes: lengths, "
              "every source archived and every archive file indexed, SQLite's quick_check (seconds)")
@database_option
def check(quick):
    """Verify invariants I1-I5 (reads every archived byte; run while sources are quiet)."""
    from .invariants import check_home, check_quick

    run_checks = check_quick if quick else check_home

    settings = _settings()
    index = _index(settings)  # never created here: checked only if it exists
    try:
        exists = index.exists()
    except IndexUnavailable as e:
        raise click.ClickException(str(e)) from None
    try:
        problems = run_checks(settings, index if exists else None)
    finally:
        index.close()
    for p in problems:
        click.echo(p, err=True)
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        sys.exit(1)
    if not exists:
        click.echo(f"ok: nothing archived yet and no transcripts to archive (no index at {index.describe()})", err=True)
        return
    click.echo("ok: lengths, sources and index hold (--quick: archived bytes not re-read)" if quick
               else "ok: I1-I5 hold", err=True)


@zerg.command()
@click.argument("question")
@click.option("--thread", "thread_id", help="continue this chat thread")
def ask(question, thread_id):
    """Ask Oikos about your sessions; the answer streams here."""
    from .daemon import running
    from .oikos import chat_status

    settings = _settings()
    status = chat_status(settings)
    if not status["available"]:
        click.echo(f"Error: {status['message']}", err=True)
        sys.exit(1)
    from .oikos.agent import Oikos

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


# `zergd token …` and `zerg ship`: registered on the groups above.
from . import cli_accounts, cli_ship  # noqa: E402,F401
