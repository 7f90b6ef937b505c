"""What ships: the Timeline inside a non-editable install, every command documented."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from zergd.cli import zerg, zergd

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # From a copy of what git would check out: a stale build/ folder in the
    # working tree must not leak old modules into the wheel.
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "zergd", src / "zergd", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)],
                   check=True, capture_output=True)
    return next(out.glob("zergd-*.whl"))


def test_wheel_contains_the_timeline(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ROOT.joinpath("zergd", "webui").iterdir():
        if f.suffix in (".html", ".js", ".css", ".svg"):
            assert f"zergd/webui/{f.name}" in names


def test_the_source_tree_has_the_installed_package_s_shape(wheel):
    """A daemon started from a clone's root imports the source folder
    (python puts the current folder first): it must hold all the wheel holds."""
    packaged = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("zergd/")}
    assert packaged
    assert [n for n in sorted(packaged) if not (ROOT / n).is_file()] == []


def test_installed_wheel_serves_the_timeline(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    probe = (
        "import zergd, sys\n"
        f"assert zergd.__file__.startswith({str(target)!r}), zergd.__file__\n"
        "from fastapi.testclient import TestClient\n"
        "from zergd.config import load_settings\n"
        "from zergd.api.app import create_app\n"
        "app = create_app(load_settings(), None, bound_host='127.0.0.1', port=8080)\n"
        "c = TestClient(app, base_url='http://127.0.0.1:8080')\n"
        "page = c.get('/')\n"
        "assert page.status_code == 200 and 'app.js' in page.text\n"
        "v = app.state.assets.version\n"
        "assert c.get(f'/static/{v}/app.js').status_code == 200\n"
        "print('served')\n"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ZERG_HOME": str(tmp_path / "z")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.stdout.strip() == "served", result.stderr


@pytest.mark.parametrize("group,prefix", [(zergd, "zergd"), (zerg, "zerg")])
def test_every_command_is_in_the_readme(group, prefix):
    readme = (ROOT / "README.md").read_text()
    for name in group.commands:
        assert re.search(rf"`{prefix} {name}\b", readme), f"`{prefix} {name}` is not documented in README.md"
