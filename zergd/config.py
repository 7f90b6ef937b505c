"""Where things live.  Every path comes from the environment first, then
``ZERG_HOME/config.toml``, then a default, so tests (and people with unusual
set-ups) can point zergd anywhere without touching the real home folder."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .transcript import PROVIDERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib


class ConfigError(Exception):
    """config.toml exists but cannot be used; the message says why."""


@dataclass(frozen=True)
class SourceRoot:
    """A folder whose transcripts we archive: ``provider`` names the agent
    that writes it (``zergd.transcript.NAMES``)."""

    provider: str
    path: Path
    # Set for the one file an agent keeps beside its transcripts (its prompt
    # history, ``Provider.history``): then only ``path / only`` is this root's,
    # and that file is what is watched.
    only: str = ""

    @property
    def scope(self) -> Path:
        """What this root holds: its folder, or its one file."""
        return self.path / self.only if self.only else self.path


@dataclass(frozen=True)
class Settings:
    home: Path
    agent_dirs: dict = field(hash=False)  # agent name -> its folder (~/.claude, $CODEX_HOME, ...)
    host: str
    options: dict = field(default_factory=dict, compare=False)

    def agent_dir(self, name: str) -> Path:
        return self.agent_dirs[name]

    @property
    def project_groups(self) -> dict[str, str]:
        """``[projects.groups]`` in config.toml: a path prefix or glob -> its
        group's name ("work", "oss"); the first that matches a project wins.
        ConfigError for anything else."""
        projects = self.options.get("projects", {})
        groups = projects.get("groups", {}) if isinstance(projects, dict) else None
        if not isinstance(groups, dict) or not all(isinstance(k, str) and isinstance(v, str) and k and v
                                                   for k, v in groups.items()):
            raise ConfigError('[projects.groups] maps paths to names, e.g. "~/code/acme" = "work"')
        return groups

    @property
    def archive_dir(self) -> Path:
        return self.home / "sessions"

    @property
    def index_path(self) -> Path:
        return self.home / "index.db"

    @property
    def database_url(self) -> str | None:
        """Where the index lives when not in ``index_path``: a
        ``postgresql://…`` URL (``ZERG_DATABASE_URL``, ``--database``, or
        ``[database] url`` in config.toml)."""
        database = self.options.get("database")
        configured = database.get("url") if isinstance(database, dict) else None
        return os.environ.get("ZERG_DATABASE_URL") or configured or None

    def ship_target(self) -> tuple[str, str, str | None] | None:
        """(url, token, machine name) to ship this machine's sessions to, or
        None: ``ZERG_SHIP_TO`` / ``ZERG_SHIP_TOKEN`` (or ``ZERG_SHIP_TOKEN_FILE``)
        / ``ZERG_SHIP_MACHINE``, else ``[ship] to, token_file, machine`` in
        config.toml (a token written into config.toml works too)."""
        ship = self.options.get("ship")
        ship = ship if isinstance(ship, dict) else {}
        url = os.environ.get("ZERG_SHIP_TO") or ship.get("to")
        if not url:
            return None
        token = os.environ.get("ZERG_SHIP_TOKEN") or ship.get("token")
        token_file = os.environ.get("ZERG_SHIP_TOKEN_FILE") or ship.get("token_file")
        if not token and token_file:
            try:
                token = Path(token_file).expanduser().read_text("utf-8").strip()
            except OSError as e:
                raise ConfigError(f"cannot read the ship token file {token_file}: {e.strerror or e}") from None
        if not token:
            raise ConfigError(f"shipping to {url} needs a token: --token-file FILE, ZERG_SHIP_TOKEN, "
                              "or [ship] token_file in config.toml")
        machine = os.environ.get("ZERG_SHIP_MACHINE") or ship.get("machine") or None
        return str(url), token, _safe_host(machine) if machine else None

    def _server(self, key: str, env: str) -> str | None:
        server = self.options.get("server")
        configured = server.get(key) if isinstance(server, dict) else None
        return os.environ.get(env) or (str(configured) if configured else None)

    @property
    def public_url(self) -> str | None:
        """The URL people and other machines reach this zergd at, when it is a
        team server (``--public-url``, ``ZERG_PUBLIC_URL``, ``[server] public_url``):
        the only Host and Origin it then accepts."""
        return self._server("public_url", "ZERG_PUBLIC_URL")

    @property
    def forwarded_allow_ips(self) -> str:
        """Proxies whose X-Forwarded-For/-Proto are believed (uvicorn's
        ``forwarded_allow_ips``): a TLS proxy on this machine by default."""
        return self._server("forwarded_allow_ips", "ZERG_FORWARDED_ALLOW_IPS") or "127.0.0.1"

    @property
    def log_dir(self) -> Path:
        configured = self.options.get("log_dir")
        if configured:
            return Path(configured).expanduser()
        if os.environ.get("ZERG_HOME"):
            # An explicit ZERG_HOME keeps everything together (tests, containers).
            return self.home / "logs"
        return Path(platformdirs.user_log_dir("zergd", appauthor=False))

    @property
    def rescan_interval(self) -> float:
        """Seconds between rescans that catch missed events and new roots."""
        value = os.environ.get("ZERG_RESCAN_INTERVAL") or self.options.get("rescan_interval") or 120
        try:
            return max(0.1, float(value))
        except ValueError:
            raise ConfigError(f"rescan_interval must be a number of seconds, not {value!r}") from None

    def source_roots(self) -> list[SourceRoot]:
        """Each agent's folders of transcripts, its first the one new sessions
        go in; then each agent's prompt history (read after the transcripts,
        so a backfill knows which sessions have one)."""
        return [SourceRoot(agent.name, self.agent_dirs[agent.name] / folder)
                for agent in PROVIDERS.values() for folder in agent.roots] + \
            [SourceRoot(agent.name, self.agent_dirs[agent.name], only=agent.history)
             for agent in PROVIDERS.values() if agent.history]


def _read_config_file(home: Path) -> dict:
    path = home / "config.toml"
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e


def _safe_host(name: str) -> str:
    """The host name becomes a folder name: keep it to a safe alphabet."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return cleaned or "localhost"


MACHINE_FILE = "machine-id"


def machine_id(home: Path) -> str:
    """This machine's folder name in the archive, stable across host renames.

    Kept in ``ZERG_HOME/machine-id``: the host name when the archive was
    started (``record_machine_id``: written by the first command that takes
    the home to write to it).  A home archived before the file existed keeps
    the one folder it has (renaming the host later must not re-archive and
    duplicate every session)."""
    path = home / MACHINE_FILE
    try:
        name = path.read_text("utf-8").strip()
        if name:
            return _safe_host(name)
    except (OSError, UnicodeDecodeError):
        pass
    name = _safe_host(socket.gethostname())
    sessions = home / "sessions"
    try:
        existing = sorted(p.name for p in sessions.iterdir() if p.is_dir())
    except OSError:
        existing = []
    if len(existing) == 1 and name not in existing:
        name = existing[0]
    if existing:  # the archive exists: from now on its folder name is fixed
        record_machine_id(home, name)
    return name


def record_machine_id(home: Path, name: str) -> None:
    """Fix the archive's folder name for this machine before its first byte
    is archived (a host renamed later changes nothing)."""
    path = home / MACHINE_FILE
    if path.exists():
        return
    try:
        tmp = path.with_name(MACHINE_FILE + ".tmp")
        tmp.write_text(name + "\n", "utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only home still works; the name is derived again next time


def load_settings() -> Settings:
    home = Path(os.environ.get("ZERG_HOME") or Path.home() / ".zerg").expanduser()
    options = _read_config_file(home)

    def pick(env: str, key: str, default) -> Path:
        value = os.environ.get(env) or options.get(key)
        return Path(value).expanduser() if value else default()

    settings = Settings(
        home=home,
        agent_dirs={agent.name: pick(agent.env, agent.setting, agent.default_dir) for agent in PROVIDERS.values()},
        host=_safe_host(os.environ.get("ZERG_HOST") or options.get("host") or machine_id(home)),
        options=options,
    )
    settings.project_groups  # noqa: B018 - a bad [projects.groups] is said at start, not on a request
    return settings
