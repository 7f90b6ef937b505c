"""The CLI with bad input: one clear line on stderr and a non-zero exit,
never a traceback; empty results say so; plurals are right."""

import pytest
from click.testing import CliRunner

from zergd.cli import zerg, zergd

LINE = b'{"type":"user","message":{"role":"user","content":"%s"}}\n'


@pytest.fixture
def home(settings, index):
    folder = settings.agent_dir("claude") / "projects" / "-p"
    folder.mkdir(parents=True)
    (folder / "s1.jsonl").write_bytes(LINE % b"hello world")
    index.backfill()
    return settings


def run(group, *args):
    return CliRunner().invoke(group, list(args))


@pytest.mark.parametrize("args", [
    ["search", "a AND (", "--raw"],
    ["search", "hello", "--limit", "0"],
    ["search", "hello", "--limit", "-1"],
    ["search", "hello", "--per-session", "-2"],
    ["export", "s1", "-o", "/nonexistent/dir/x"],
    ["export", "s1", "--generation", "0"],
    ["export", "nope"],
    ["sessions", "--since", "last tuesday"],
])
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(home, args):
    result = run(zerg, *args)
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert result.output.strip()


@pytest.mark.parametrize("args,says", [
    (["sessions", "--since", "99999999999999999999999d"], "at most 700,000 days ago"),
    (["sessions", "--project", "x" * 60_000], "at most 1,000 characters"),
    (["stats", "--project", "x" * 60_000], "at most 1,000 characters"),
])
def test_absurd_filters_are_usage_errors(home, args, says):
    result = run(zerg, *args)
    assert result.exit_code == 2 and says in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("args", [["logs", "-n", "-1"], ["start", "--wait", "-1"], ["start", "--port", "70000"]])
def test_zergd_bad_numbers_are_refused(home, args):
    result = run(zergd, *args)
    assert result.exit_code == 2 and "Invalid value" in result.output


def test_empty_results_say_so(home):
    result = run(zerg, "search", "zzzzzz")
    assert result.exit_code == 0 and "no matches" in result.output
    result = run(zerg, "sessions", "--project", "nowhere")
    assert result.exit_code == 0 and "no sessions match" in result.output
    result = run(zerg, "sessions", "--deleted")
    assert "no sessions match" in result.output


def test_plurals(home):
    out = run(zerg, "sessions").output
    assert "1 prompt, 0 replies, 0 tool calls" in out


def test_logs_n_0_prints_nothing(home):
    from zergd.daemon import Paths

    log = Paths.of(home).log
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("one\ntwo\nthree\n")
    assert run(zergd, "logs", "-n", "0").output == ""
    assert run(zergd, "logs", "-n", "2").output == "two\nthree\n"


def test_version_names_the_distribution():
    assert "version" in run(zergd, "--version").output


def test_search_in_the_terminal_says_where_each_hit_is(sample, index):
    """Title, date, the kind of line and its number, and (no daemon here)
    the session to open; then how many hits in how many sessions."""
    from test_daemon import zerg as zerg_proc

    index.backfill()
    index.index.close()
    proc = zerg_proc("search", "login")
    assert proc.returncode == 0
    first = proc.stdout.splitlines()
    assert first[0][:4].isdigit() and "line " in first[0] and first[2].strip().startswith("session ")
    assert " in " in proc.stderr and "session" in proc.stderr and "hit" in proc.stderr
