"""The daemon's commands: start, run, stop, status, logs, service, check; `zerg serve`."""

from __future__ import annotations

import sys
import time

import click
import orjson

from ..client import probe
from ..config import ConfigError
from ..errors import IndexUnavailable
from .base import (DEFAULT_HOST, DEFAULT_PORT, database_option, get_settings, index_for, plural, server_options,
                   ship_options, ship_target, zerg, zergd)

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

    from ..daemon import AlreadyRunning, NotServable, Paths, acquire_lock, check_entry

    settings = get_settings()
    ship_target(settings)  # a missing token fails here, not in the background
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
        info = probe(settings)
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
    from ..daemon import AlreadyRunning, NotServable, PortBusy
    from ..daemon import run as run_daemon

    settings = get_settings()
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

    from ..daemon import running

    settings = get_settings()
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
    from ..daemon import running

    settings = get_settings()
    info = running(settings)
    if not info:
        if as_json:
            click.echo(orjson.dumps({"running": False, "pid": None, "url": None, "backlog": None}).decode())
        else:
            click.echo("zergd is not running")
        sys.exit(3)
    live = probe(settings) or {}
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
    from ..daemon import Paths

    path = Paths.of(get_settings()).log
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
    from .. import autostart
    from ..daemon import NotServable, check_entry

    settings = get_settings()
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
    from .. import autostart

    settings = get_settings()
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


@zerg.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="address to listen on")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
@database_option
@server_options
def serve(host, port):
    """Run the daemon and the Timeline in the foreground (the same as `zergd run`)."""
    _run_foreground(host, port, announce=True)


@zergd.command()
@click.option("--quick", is_flag=True, help="only what holds without reading archived bytes: lengths, "
              "every source archived and every archive file indexed, SQLite's quick_check (seconds)")
@database_option
def check(quick):
    """Verify invariants I1-I5 (reads every archived byte; run while sources are quiet)."""
    from ..invariants import check_home, check_quick

    run_checks = check_quick if quick else check_home

    settings = get_settings()
    index = index_for(settings)  # never created here: checked only if it exists
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
