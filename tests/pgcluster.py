"""A throwaway PostgreSQL cluster under /tmp on a free port, for the tests
and the benchmark.  initdb refuses to run as root, so as root the cluster
runs as the `postgres` user Debian's package creates."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


class Unavailable(Exception):
    """No PostgreSQL here (or no way to run it); the message says why."""


def postgres_bin() -> Path | None:
    for version in (18, 17, 16, 15):
        folder = Path(f"/usr/lib/postgresql/{version}/bin")
        if (folder / "initdb").exists():
            return folder
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, *, durable: bool = False):
        """``durable``: fsync as a real server does (the benchmark); tests skip it."""
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise Unavailable("psycopg is not installed (pip install 'zergd[postgres]')") from None
        self.bindir = postgres_bin()
        if self.bindir is None:
            raise Unavailable("PostgreSQL is not installed (Debian: apt-get install postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="zergd-pg-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            import pwd

            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise Unavailable("running as root and there is no `postgres` user to run initdb as") from None
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data, self.port = self.root / "data", free_port()
        fast = "" if durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._run(self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C.UTF-8", *([] if durable else ["--no-sync"]))
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-w", "-l", self.root / "log", "start", "-o",
                      f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200{fast}")
        except subprocess.CalledProcessError as e:
            shutil.rmtree(self.root, ignore_errors=True)
            raise Unavailable(f"could not start a PostgreSQL cluster: {(e.stderr or e.stdout or '').strip()[-300:]}") \
                from None
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        self._databases = 0

    def _run(self, *cmd):
        return subprocess.run([*self.as_user, *map(str, cmd)], check=True, capture_output=True, text=True)

    def database(self, name: str | None = None) -> str:
        """The URL of a new, empty database."""
        import psycopg

        self._databases += 1
        name = name or f"t{self._databases}"
        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}"')
            conn.execute(f'create database "{name}"')
        return f"{self.url}/{name}"

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
