"""``zerg doctor``: what people get wrong, checked in one go, one line each
with the fix: the daemon, the watched folders, Claude Code's cleanup
setting, disk space, the index's health, chat and MCP."""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson

from .config import Settings
from .transcript import PROVIDERS

OK, WARN, FAIL = "ok", "warn", "fail"
CLAUDE_DEFAULT_CLEANUP_DAYS = 30
LOW_DISK = 1 << 30  # below this much free space, say so
NO_DISK = 100 << 20  # below this, archiving will fail soon


@dataclass
class Finding:
    status: str  # ok | warn | fail
    topic: str
    what: str
    fix: str | None = None

    def line(self) -> str:
        mark = {OK: "ok  ", WARN: "warn", FAIL: "FAIL"}[self.status]
        return f"{mark}  {self.topic}: {self.what}" + (f" → {self.fix}" if self.fix else "")

    def as_dict(self) -> dict:
        return asdict(self)


def diagnose(settings: Settings, probe=None) -> list[Finding]:
    """Every check, in the order a person would fix them.  ``probe``: the
    CLI's function asking the running daemon for its status over HTTP."""
    daemon = _daemon(settings, probe)
    found = [daemon]
    found += _roots(settings)
    found.append(_cleanup(settings, running=daemon.status == OK))
    found.append(_disk(settings))
    found.append(_index(settings, backfilling="backfilling" in daemon.what))
    found += _drift(settings)
    found.append(_chat(settings))
    found.append(_mcp())
    return found


def _daemon(settings: Settings, probe) -> Finding:
    from .daemon import running

    info = running(settings)
    if not info:
        return Finding(WARN, "daemon", "not running: sessions are archived only while it runs (or by `zergd import`)",
                       "zergd start (and `zergd service install` to start it at every login)")
    live = probe(settings) if probe else None
    if not live:
        return Finding(FAIL, "daemon", f"pid {info.get('pid')} holds {settings.home} but does not answer at "
                       f"{info.get('url', '?')}", "zergd logs; then zergd stop && zergd start")
    return Finding(OK, "daemon", f"running (pid {live['pid']}) at {info.get('url')}, {live['state']}, "
                   f"{live['sessions']:,} sessions")


def _roots(settings: Settings) -> list[Finding]:
    found = []
    found_any = {r.provider for r in settings.source_roots() if not r.only and r.path.is_dir()}
    for root in settings.source_roots():
        topic = f"{root.provider} folder"
        if root.only:  # a prompt history: kept when it is there, nothing to say when not
            if root.scope.is_file():
                found.append(Finding(OK, f"{root.provider} prompt history", f"{root.scope} (kept)"))
            continue
        if not root.path.is_dir():
            agent = PROVIDERS[root.provider]
            if root.provider in found_any:  # its folder is right: this one comes when the agent needs it
                found.append(Finding(OK, topic, f"{root.path} does not exist yet ({agent.label} makes it when"
                                     " it needs it)"))
                continue
            if agent.optional:  # many people never run it; it makes these when it runs
                found.append(Finding(OK, topic, f"{root.path} does not exist (fine unless you use {agent.label}: "
                                     f"then set {agent.env} to where it writes)"))
                continue
            found.append(Finding(WARN, topic, f"{root.path} does not exist yet",
                                 f"if {agent.label} writes elsewhere, set {agent.env} (or {agent.setting} in "
                                 "config.toml) and restart zergd"))
            continue
        if not os.access(root.path, os.R_OK | os.X_OK):
            found.append(Finding(FAIL, topic, f"{root.path} cannot be read by this user",
                                 f"chmod u+rx {root.path}, or run zergd as its owner"))
            continue
        blocked, transcripts = [], 0
        for dirpath, dirs, files in os.walk(root.path):
            transcripts += sum(name.endswith(".jsonl") for name in files)
            for d in list(dirs):
                if not os.access(Path(dirpath, d), os.R_OK | os.X_OK):
                    blocked.append(Path(dirpath, d))
                    dirs.remove(d)
        if blocked:
            found.append(Finding(WARN, topic, f"{root.path}: {len(blocked)} folder(s) cannot be read, e.g. "
                                 f"{blocked[0]} (their sessions are not archived)", f"chmod -R u+rX {blocked[0]}"))
        else:
            found.append(Finding(OK, topic, f"{root.path} ({transcripts:,} transcripts)"))
    return found


def _cleanup(settings: Settings, *, running: bool) -> Finding:
    path = settings.agent_dir("claude") / "settings.json"
    days, where = CLAUDE_DEFAULT_CLEANUP_DAYS, "the default"
    try:
        data = orjson.loads(path.read_bytes())
        value = data.get("cleanupPeriodDays") if isinstance(data, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            days, where = int(value), str(path)
    except FileNotFoundError:
        pass
    except (OSError, orjson.JSONDecodeError) as e:
        return Finding(WARN, "Claude cleanup", f"cannot read {path}: {e}", "fix the JSON in that file")
    said = f"Claude Code deletes transcripts after {days} days (cleanupPeriodDays, {where})"
    if days <= 0:
        return Finding(WARN, "Claude cleanup", said + ": it may keep none at all, and zergd can archive only what"
                       " is written", f"remove cleanupPeriodDays from {path}")
    if running:
        return Finding(OK, "Claude cleanup", said + "; zergd keeps every one, so raising it is unnecessary")
    return Finding(WARN, "Claude cleanup", said + "; with zergd stopped, a session older than that is lost before"
                   " it is archived", "keep zergd running (zergd service install); then raising it is unnecessary")


def _disk(settings: Settings) -> Finding:
    where = settings.home
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        free = shutil.disk_usage(where).free
    except OSError as e:
        return Finding(WARN, "disk", f"cannot tell the free space at {where}: {e}")
    archive = _size(settings.archive_dir)
    index = sum(p.stat().st_size for p in settings.home.glob("index.db*") if p.is_file())
    said = f"{free / 1e9:,.1f} GB free at {where}; archive {archive / 1e6:,.1f} MB, index {index / 1e6:,.1f} MB"
    if free < NO_DISK:
        return Finding(FAIL, "disk", said, "free space now: archiving stops when the disk is full (nothing is lost;"
                       " it resumes by itself)")
    if free < LOW_DISK:
        return Finding(WARN, "disk", said, "free some space, or move ZERG_HOME to a larger disk")
    return Finding(OK, "disk", said)


def _size(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def _index(settings: Settings, *, backfilling: bool) -> Finding:
    from .errors import IndexUnavailable
    from .index import open_index
    from .invariants import check_quick

    try:
        index = open_index(settings)
    except Exception as e:  # a bad database URL, a missing driver: the message says which
        return Finding(FAIL, "index", str(e), "fix --database / ZERG_DATABASE_URL / [database] url")
    try:
        if not index.exists():
            return Finding(WARN, "index", f"none yet at {index.describe()}", "zergd start (or zergd import)")
        problems = check_quick(settings, index)
    except IndexUnavailable as e:
        return Finding(FAIL, "index", str(e), "see `zergd logs`")
    finally:
        index.close()
    if not problems:
        return Finding(OK, "index", f"{index.describe()}: healthy (zergd check --quick)")
    if backfilling:
        return Finding(OK, "index", f"the daemon is still archiving ({len(problems):,} files to go)")
    return Finding(FAIL, "index", f"{len(problems):,} problem(s), first: {problems[0]}",
                   "zergd check for all of them; zergd reindex rebuilds the index from the archive")


def _drift(settings: Settings) -> list[Finding]:
    """Per agent version, the kinds of lines it wrote that this zergd does not
    know (kept and shown raw; read properly by a newer zergd)."""
    from .index import open_index

    try:
        index = open_index(settings)
        try:
            if not index.exists():
                return []
            with index.reader() as r:
                rows = r.drift()
        finally:
            index.close()
    except Exception:  # the index finding above says what is wrong with it
        return []
    found = []
    for (provider, version), group in _by_version(rows).items():
        agent = PROVIDERS[provider].label if provider in PROVIDERS else provider
        kinds = ", ".join(f"{r['kind']} ({r['lines']:,})" for r in group[:8]) + (" …" if len(group) > 8 else "")
        total = sum(r["lines"] for r in group)
        found.append(Finding(WARN, "formats", f"{total:,} line(s) of {len(group)} kind(s) this zergd does not know, "
                             f"from {agent} {version or '(version not named)'}: {kinds}",
                             "kept and shown raw; a newer zergd reads them (pip install -U zergd, then zergd reindex)"))
    return found


def _by_version(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        groups.setdefault((row["provider"], row["version"]), []).append(row)
    return groups


def _chat(settings: Settings) -> Finding:
    from .oikos import chat_status

    status = chat_status(settings)
    if status["available"]:
        return Finding(OK, "Oikos chat", status["message"])
    return Finding(WARN, "Oikos chat", "off: " + status["message"].split(". ")[0],
                   status["message"].split(". ", 1)[-1].rstrip("."))


def _mcp() -> Finding:
    if importlib.util.find_spec("mcp") is None:
        return Finding(WARN, "MCP", "zerg mcp needs the mcp extra", "pip install 'zergd[mcp]'")
    return Finding(OK, "MCP", "zerg mcp is ready; register it with `claude mcp add zergd -- zerg mcp`"
                   " (Codex: `codex mcp add zergd -- zerg mcp`)")
