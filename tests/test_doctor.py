"""`zerg doctor`: one line per check, each with its fix; exit 1 only when something is broken."""

import json
import os

import pytest
from test_daemon import free_port, wait_for, zerg, zergd

from zergd.doctor import FAIL, OK, WARN, diagnose


def by_topic(findings):
    return {f.topic: f for f in findings}


def test_a_fresh_machine(settings):
    (settings.agent_dir("claude") / "settings.json").write_text('{"cleanupPeriodDays": 7}')
    proc = zerg("doctor")
    assert proc.returncode == 0, proc.stdout  # warnings, nothing broken
    lines = proc.stdout.splitlines()
    assert len(lines) == len(json.loads(zerg("doctor", "--json").stdout))
    found = {f["topic"]: f for f in json.loads(zerg("doctor", "--json").stdout)}
    assert found["daemon"]["status"] == WARN and found["daemon"]["fix"].startswith("zergd start")
    assert found["claude folder"]["status"] == OK and "(0 transcripts)" in found["claude folder"]["what"]
    assert found["Claude cleanup"]["status"] == WARN and "after 7 days" in found["Claude cleanup"]["what"]
    assert found["index"]["status"] == WARN and "zergd start" in found["index"]["fix"]
    assert found["Oikos chat"]["status"] == WARN and "ANTHROPIC_API_KEY" in found["Oikos chat"]["fix"]
    assert any(line.startswith("warn  daemon: not running") and "→ zergd start" in line for line in lines)


def test_settings_it_cannot_read_and_folders_missing(settings, monkeypatch):
    (settings.agent_dir("claude") / "settings.json").write_text("{not json")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(settings.home.parent / "nowhere"))
    from zergd.config import load_settings

    found = by_topic(diagnose(load_settings()))
    assert found["claude folder"].status == WARN and "CLAUDE_CONFIG_DIR" in found["claude folder"].fix
    (settings.home.parent / "nowhere").mkdir()
    (settings.home.parent / "nowhere" / "settings.json").write_text("{not json")
    found = by_topic(diagnose(load_settings()))
    assert found["Claude cleanup"].status == WARN and "cannot read" in found["Claude cleanup"].what


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder whatever its mode")
def test_an_unreadable_folder_is_named(settings):
    locked = settings.agent_dir("claude") / "projects" / "-locked"
    locked.mkdir()
    locked.chmod(0)
    try:
        found = by_topic(diagnose(settings))
        assert found["claude folder"].status == WARN and "-locked" in found["claude folder"].what
    finally:
        locked.chmod(0o755)


def test_little_disk_left(settings, monkeypatch):
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10 << 30, 10 << 30, 50 << 20))
    found = by_topic(diagnose(settings))
    assert found["disk"].status == FAIL and "0.1 GB free" in found["disk"].what


def test_with_the_daemon_running_and_a_damaged_archive(sample, monkeypatch):
    monkeypatch.setenv("ZERG_RESCAN_INTERVAL", "0.5")
    zergd("start", "--port", str(free_port()), check=True)
    try:
        wait_for(lambda: json.loads(zergd("status", "--json").stdout).get("state") == "watching", timeout=60)
        found = {f["topic"]: f for f in json.loads(zerg("doctor", "--json").stdout)}
        assert found["daemon"]["status"] == OK and "running (pid" in found["daemon"]["what"]
        assert found["Claude cleanup"]["status"] == OK and "raising it is unnecessary" in found["Claude cleanup"]["what"]
        assert found["index"]["status"] == OK and "healthy" in found["index"]["what"]
    finally:
        zergd("stop")
    archived = next(p for p in (sample.archive_dir).rglob("*.jsonl") if p.stat().st_size > 100)
    with open(archived, "r+b") as f:
        f.truncate(50)  # something other than zergd cut an archive file
    proc = zerg("doctor")
    assert proc.returncode == 1
    assert any(line.startswith("FAIL  index:") and "zergd check" in line for line in proc.stdout.splitlines())
    quick = zergd("check", "--quick")
    assert quick.returncode == 1 and "I5" in quick.stderr


def test_a_folder_the_agent_makes_later_is_no_reason_to_move_it(settings, monkeypatch):
    """Codex's sessions/ is there and archived_sessions/ not yet: its folder
    is right, so doctor does not say to set CODEX_HOME."""
    codex = settings.home.parent / "codex-here"
    (codex / "sessions").mkdir(parents=True)
    monkeypatch.setenv("CODEX_HOME", str(codex))
    from zergd.config import load_settings

    mine = [f for f in diagnose(load_settings()) if f.topic == "codex folder"]
    assert len(mine) == 2 and all(f.status == OK for f in mine)
    assert not any("CODEX_HOME" in (f.fix or "") + f.what for f in mine)
    assert any("archived_sessions does not exist yet" in f.what for f in mine)
