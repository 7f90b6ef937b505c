"""`zergd service install|uninstall`: run `zergd run` at login and restart
it on failure - a systemd user unit on Linux, a launchd agent on macOS.

The files name this Python and the settings in force (ZERG_HOME, the
transcript folders) so the service archives exactly what `zergd start`
would from this shell.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import Settings

UNIT_NAME = "zergd.service"
AGENT_LABEL = "dev.zergd"
PASSED_ON = ("ZERG_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "ZERG_HOST", "ZERG_RESCAN_INTERVAL")


class Unsupported(Exception):
    pass


@dataclass
class ServiceFile:
    path: Path
    text: str
    enable: list[list[str]]  # commands that start it now and at every login
    disable: list[list[str]]


def command(host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "zergd", "run", "--host", host, "--port", str(port)]


def environment() -> dict[str, str]:
    return {name: os.environ[name] for name in PASSED_ON if os.environ.get(name)}


def systemd_unit(settings: Settings, host: str, port: int) -> ServiceFile:
    def literal(value: str) -> str:  # "%" starts a systemd specifier
        return value.replace("%", "%%")

    def quote(value: str, *, dollar: bool = False) -> str:  # systemd's quoting; ExecStart also expands $VARS
        value = literal(value).replace("\\", "\\\\").replace('"', '\\"')
        return '"' + (value.replace("$", "$$") if dollar else value) + '"'

    env = "".join(f"Environment={quote(f'{k}={v}')}\n" for k, v in sorted(environment().items()))
    text = (
        "[Unit]\n"
        "Description=zergd: keeps every Claude Code and Codex session, byte for byte\n"
        "After=default.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"ExecStart={' '.join(quote(part, dollar=True) for part in command(host, port))}\n"
        f"{env}"
        f"WorkingDirectory={literal(str(settings.home))}\n"  # the rest of the line; quotes are not allowed here
        "Restart=on-failure\n"
        "RestartSec=5\n"
        # SIGTERM lets the writer finish its transaction (see daemon.run).
        "KillSignal=SIGTERM\n"
        "TimeoutStopSec=40\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )
    path = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "systemd" / "user" / UNIT_NAME
    return ServiceFile(path, text,
                       enable=[["systemctl", "--user", "daemon-reload"],
                               ["systemctl", "--user", "enable", "--now", UNIT_NAME]],
                       disable=[["systemctl", "--user", "disable", "--now", UNIT_NAME]])


def launchd_agent(settings: Settings, host: str, port: int) -> ServiceFile:
    logs = settings.log_dir
    agent = {
        "Label": AGENT_LABEL,
        "ProgramArguments": command(host, port),
        "EnvironmentVariables": environment(),
        "WorkingDirectory": str(settings.home),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # restart on failure, not after `zergd stop`
        "StandardOutPath": str(logs / "launchd.out"),
        "StandardErrorPath": str(logs / "launchd.out"),
    }
    path = Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
    domain = f"gui/{os.getuid()}"
    return ServiceFile(path, plistlib.dumps(agent).decode(),
                       enable=[["launchctl", "bootstrap", domain, str(path)]],
                       disable=[["launchctl", "bootout", f"{domain}/{AGENT_LABEL}"]])


def service_file(settings: Settings, host: str, port: int, platform: str = sys.platform) -> ServiceFile:
    if platform.startswith("linux"):
        return systemd_unit(settings, host, port)
    if platform == "darwin":
        return launchd_agent(settings, host, port)
    raise Unsupported(f"no service manager zergd knows on {platform}; run `zergd run` from your own")


def shell(cmd: list[str]) -> str:
    return " ".join(shlex.quote(c) for c in cmd)


def run_all(commands: list[list[str]]) -> str | None:
    """Run each command; the first failure's message, or None."""
    for cmd in commands:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"`{shell(cmd)}`: {e}"
        if proc.returncode != 0:
            return f"`{shell(cmd)}`: {(proc.stderr or proc.stdout).strip() or f'exit {proc.returncode}'}"
    return None
