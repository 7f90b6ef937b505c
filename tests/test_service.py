"""`zergd service install|uninstall`: the generated files are valid and name
this Python and the settings in force."""

import os
import plistlib
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from zergd import autostart
from zergd.cli import zergd


def test_dry_run_prints_the_unit_and_writes_nothing(settings, tmp_path):
    result = CliRunner().invoke(zergd, ["service", "install", "--dry-run", "--port", "9123"])
    assert result.exit_code == 0, result.output
    assert "ExecStart=" in result.output and '"--port" "9123"' in result.output
    assert "Restart=on-failure" in result.output and "WantedBy=default.target" in result.output
    assert f'Environment="ZERG_HOME={settings.home}"' in result.output
    assert "systemctl --user enable --now zergd.service" in result.output
    assert not (tmp_path / "home" / ".config").exists()


def test_install_writes_a_unit_systemd_accepts_and_uninstall_says_what_it_removes(settings, tmp_path, monkeypatch):
    odd = tmp_path / "odd 100% $HOME"
    monkeypatch.setenv("ZERG_HOME", str(odd))  # spaces, a specifier and a variable, all taken literally
    result = CliRunner().invoke(zergd, ["service", "install", "--no-start"])
    assert result.exit_code == 0, result.output
    unit = tmp_path / "home" / ".config" / "systemd" / "user" / "zergd.service"
    text = unit.read_text()
    assert "odd 100%% $HOME" in text  # % doubled (a specifier otherwise); $ is literal outside ExecStart
    if shutil.which("systemd-analyze"):
        runtime = tmp_path / "run"
        runtime.mkdir(mode=0o700)
        env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path / "home"))
        proc = subprocess.run(["systemd-analyze", "verify", "--user", str(unit)], capture_output=True, text=True,
                              env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "zergd.service" not in proc.stderr, proc.stderr
    result = CliRunner().invoke(zergd, ["service", "uninstall", "--dry-run"])
    assert "would run: systemctl --user disable --now zergd.service" in result.output and unit.exists()


def test_launchd_agent_is_a_valid_plist(settings):
    agent = autostart.service_file(settings, "127.0.0.1", 8080, platform="darwin")
    plist = plistlib.loads(agent.text.encode())
    assert plist["Label"] == "dev.zergd"
    assert plist["ProgramArguments"][1:4] == ["-m", "zergd", "run"]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["EnvironmentVariables"]["ZERG_HOME"] == str(settings.home)
    assert agent.path.name == "dev.zergd.plist" and "LaunchAgents" in str(agent.path)
    assert agent.enable[0][:2] == ["launchctl", "bootstrap"]


def test_other_platforms_get_a_clear_message(settings):
    with pytest.raises(autostart.Unsupported):
        autostart.service_file(settings, "127.0.0.1", 8080, platform="win32")
