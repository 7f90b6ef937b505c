"""Daemon lifecycle: one instance per ZERG_HOME, a state file saying where it
listens, logs with rotation, graceful stop on SIGTERM/SIGINT.

The lock is a portalocker (flock) lock on ``ZERG_HOME/zergd.lock``: the
kernel releases it when the process dies, even by kill -9, so a stale lock
never needs a manual step.  ``ZERG_HOME/zergd.json`` says pid, URL and start
time for ``zergd status``/``stop`` and for the "already running" message.
"""

from __future__ import annotations

import errno
import json
import logging
import logging.handlers
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import portalocker

from .config import Settings, record_machine_id

log = logging.getLogger("zergd")

LOG_NAME = "zergd.log"


class AlreadyRunning(Exception):
    """ZERG_HOME is held: by the daemon (``info`` has its url) or by a
    one-shot command such as ``zergd import`` (``info["what"]`` names it)."""

    def __init__(self, info: dict | None):
        self.info = info or {}
        pid = self.info.get("pid", "?")
        if self.info.get("what", "daemon") != "daemon":
            message = f"`zergd {self.info['what']}` (pid {pid}) is using {self.info.get('home', 'ZERG_HOME')}"
        else:
            message = f"already running (pid {pid}, {self.info.get('url', 'unknown URL')})"
        super().__init__(message)

    @property
    def is_daemon(self) -> bool:
        return self.info.get("what", "daemon") == "daemon"


class PortBusy(Exception):
    pass


@dataclass
class Paths:
    lock: Path
    state: Path
    log: Path

    @classmethod
    def of(cls, settings: Settings) -> "Paths":
        return cls(settings.home / "zergd.lock", settings.home / "zergd.json", settings.log_dir / LOG_NAME)


def read_state(settings: Settings) -> dict | None:
    try:
        return json.loads(Paths.of(settings).state.read_text())
    except (FileNotFoundError, ValueError):
        return None


def acquire_lock(settings: Settings, what: str | None = "daemon") -> portalocker.Lock:
    """The instance lock, or AlreadyRunning naming who holds it.  The daemon,
    ``zergd import`` and ``zergd reindex`` all write the index and archive,
    so only one of them runs on a ZERG_HOME at a time."""
    settings.home.mkdir(parents=True, exist_ok=True)
    if what is not None:
        record_machine_id(settings.home, settings.host)  # the archive's folder name, fixed from its first writer on
    path = Paths.of(settings).lock
    lock = portalocker.Lock(str(path), mode="a", timeout=0,
                            flags=portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
    try:
        fh = lock.acquire()
    except portalocker.exceptions.LockException:
        raise AlreadyRunning(_holder(settings)) from None
    if what is None:  # only probing
        return lock
    fh.seek(0)
    fh.truncate()
    fh.write(json.dumps({"pid": os.getpid(), "what": what}))
    fh.flush()
    return lock


def _holder(settings: Settings) -> dict:
    """Who holds the lock: the lock file says, the state file adds the URL."""
    try:
        holder = json.loads(Paths.of(settings).lock.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    state = read_state(settings) or {}
    if not holder or (holder.get("what") == "daemon" and state.get("pid") == holder.get("pid")):
        holder = {**holder, **state}
    return {**holder, "home": str(settings.home)}


def holder(settings: Settings) -> dict | None:
    """Who holds ZERG_HOME (the daemon, or `zergd import`...), or None."""
    try:
        lock = acquire_lock(settings, what=None)
    except AlreadyRunning as e:
        return e.info or {"pid": None}
    lock.release()
    return None


def running(settings: Settings) -> dict | None:
    """The state of the running daemon, or None (a stale state file is ignored)."""
    info = holder(settings)
    return info if info is not None and info.get("what", "daemon") == "daemon" else None


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and
    # without it every keep-alive response waits 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise PortBusy(f"port {port} on {host} is busy: another program listens there; pick one with --port") from e
        raise PortBusy(f"cannot listen on {host}:{port}: {e.strerror}") from e
    sock.listen(128)
    return sock


def setup_logging(settings: Settings, *, foreground: bool) -> Path:
    path = Paths.of(settings).log
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=5 << 20, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)  # one line per change otherwise
    if foreground:
        # Under systemd, launchd, a container or `> file`, stderr is the log
        # people read: start-up, backfill progress and errors go there too.
        stream = logging.StreamHandler()
        if not sys.stderr.isatty():
            stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    return path


def _raise_file_limit(want: int = 4096) -> None:
    """Sources, archive files, index connections and clients all take file
    descriptors; macOS starts a process with 256.  Ask for more, up to what
    the system allows."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        if soft != resource.RLIM_INFINITY and soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass  # not on this platform, or not allowed: run with what there is


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _server_class():
    import asyncio
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn, minus two habits a background daemon cannot have: it
        re-raises SIGTERM after shutting down (which would kill us before the
        writer finishes its transaction), and it wakes ten times a second to
        poll for exit (idle CPU).  We wait on the signals instead."""

        @contextlib.contextmanager
        def capture_signals(self):
            yield

        async def main_loop(self) -> None:
            loop = asyncio.get_running_loop()
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            self.should_exit = True

    return Server


# A connection must finish each request's headers within this many seconds,
# and holds no more than this much of them (a slow or endless sender is cut off).
HEADER_TIMEOUT = 10.0
HEADER_MAX = 64 << 10
# Connections and requests at once; more are answered 503 (clients retry).
MAX_CONNECTIONS = 256


def _protocol_class():
    """uvicorn's h11 protocol with a deadline on request headers: uvicorn
    closes idle keep-alive connections, but a client that sends one header
    byte every few seconds would otherwise hold its connection for ever."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    limit = float(os.environ.get("ZERG_HEADER_TIMEOUT") or HEADER_TIMEOUT)

    class Protocol(H11Protocol):
        _deadline = None

        def _waiting(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(limit, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._waiting():
                self._arm()
            super().data_received(data)
            if not self._waiting():
                self._disarm()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _too_slow(self) -> None:
            self._deadline = None
            if self._waiting() and not self.transport.is_closing():
                self.transport.close()

    return Protocol


def _ship_loop(settings: Settings, service):
    """Continuous shipping to another zergd, when configured (--ship-to)."""
    target = settings.ship_target()
    if target is None:
        return None
    from .ship.loop import ShipLoop
    from .ship.shipper import Shipper

    url, token, machine = target
    loop = ShipLoop(Shipper(settings, url, token, machine, index=service.index), ready=service.ready, bus=service.bus)
    log.info("shipping this machine's sessions to %s as %r", url, loop.shipper.machine)
    return loop


class NotServable(Exception):
    """Bound beyond loopback without what a team server needs (a user, a public URL)."""


def check_entry(settings: Settings, host: str, port: int) -> None:
    """Refuse to listen beyond loopback (or behind a public URL) with nobody
    to sign in, or with no public URL to answer as (NotServable, saying what to do)."""
    from .api.access import Access

    try:
        access = Access(settings, host, port or 1, serving=False)
    except ValueError as e:
        raise NotServable(str(e)) from None
    if access.team and not access.accounts.users():
        where = access.public_url or host
        raise NotServable(f"zergd would serve {where} to others with nobody to sign in: add a user first"
                          " (`zergd user add NAME --admin`), or listen on 127.0.0.1")


def run(settings: Settings, host: str, port: int, *, foreground: bool = True, on_listening=None) -> int:
    """Run the daemon in this process until SIGTERM/SIGINT.  Returns an exit code."""
    import uvicorn

    from .api.app import create_app
    from .events import EventBus
    from .watch.service import ArchiveService

    _Server = _server_class()
    check_entry(settings, host, port)
    lock = acquire_lock(settings)  # AlreadyRunning propagates to the CLI
    paths = Paths.of(settings)
    try:
        sock = bind(host, port)
        port = sock.getsockname()[1]
        setup_logging(settings, foreground=foreground)
        url = url_for(host, port)
        state = {"pid": os.getpid(), "url": url, "host": host, "port": port, "started_at": time.time()}
        tmp = paths.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, paths.state)
        log.info("zergd %s listening on %s (ZERG_HOME=%s)", os.getpid(), url, settings.home)
        for root in settings.source_roots():
            log.info("watching %s: %s%s", root.provider, root.scope, "" if root.scope.exists() else " (not there yet)")
        if on_listening:
            on_listening(url)
        _raise_file_limit()
        service = ArchiveService(settings, EventBus(), rescan_interval=settings.rescan_interval)
        shipping = _ship_loop(settings, service)
        service.start()
        if shipping:
            shipping.start()
        app = create_app(settings, service, bound_host=host, port=port, shipping=shipping)
        # date_header off: uvicorn refreshes it from the 10 Hz tick we removed.
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", workers=1,
                                timeout_graceful_shutdown=3, date_header=False, proxy_headers=True,
                                forwarded_allow_ips=settings.forwarded_allow_ips, h11_max_incomplete_event_size=HEADER_MAX,
                                limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, http=_protocol_class())
        server = _Server(config)
        try:
            server.run(sockets=[sock])  # returns on SIGTERM / SIGINT
        finally:
            log.info("stopping: finishing the current transaction")
            if shipping:
                shipping.stop()
            service.stop()
            log.info("stopped")
    finally:
        if (read_state(settings) or {}).get("pid") == os.getpid():
            paths.state.unlink(missing_ok=True)
        lock.release()
    return 0
