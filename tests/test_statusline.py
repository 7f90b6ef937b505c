"""`zerg statusline` for Claude Code's status line: today's cost, the open
5-hour window's cost and time left, this session's cost; from the running
daemon (fast) or, without one, from the index; never a failure."""

import datetime as dt
import json
import re
import subprocess
import sys

from test_browser import start_daemon
from test_daemon import zergd

SID = "a1b2c3d4-0000-4000-8000-00000000cafe"
OPUS = "claude-opus-4-5-20251101"


def iso(when):
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_usage(settings, now):
    """This session: one response 20 minutes ago.  Another: one two days ago."""
    folder = settings.agent_dir("claude") / "projects" / "-home-sam-shop"
    folder.mkdir(parents=True, exist_ok=True)

    def reply(mid, when, inp, out):
        return {"type": "assistant", "timestamp": iso(when), "requestId": f"r{mid}", "cwd": "/home/sam/shop",
                "message": {"id": f"m{mid}", "role": "assistant", "model": OPUS,
                            "usage": {"input_tokens": inp, "output_tokens": out},
                            "content": [{"type": "text", "text": "ok"}]}}
    lines = {SID: [reply(1, now - dt.timedelta(minutes=20), 200_000, 20_000)],
             "b0b0b0b0-0000-4000-8000-000000000000": [reply(2, now - dt.timedelta(days=2), 400_000, 40_000)]}
    for sid, rows in lines.items():
        (folder / f"{sid}.jsonl").write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows))


def run(stdin: str, *args) -> subprocess.CompletedProcess:
    entry = "from zergd.entry import zerg; import sys; sys.argv = ['zerg', *sys.argv[1:]]; zerg()"
    return subprocess.run([sys.executable, "-c", entry, "statusline", *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


def expected():
    # Opus 4.5: $5 per million input tokens, $25 per million output.
    session = 200_000 * 5 / 1e6 + 20_000 * 25 / 1e6
    return f"${session:,.2f}"


def test_the_line_from_the_daemon_and_without_it(settings, monkeypatch):
    now = dt.datetime.now(dt.timezone.utc)
    write_usage(settings, now)
    stdin = json.dumps({"session_id": SID, "model": {"display_name": "Opus"}, "cost": {"total_cost_usd": 1.5}})
    zergd("import", check=True)
    alone = run(stdin)  # no daemon: read from the index
    assert alone.returncode == 0, alone.stderr
    start_daemon(settings, monkeypatch)
    try:
        line = run(stdin).stdout.strip()
    finally:
        zergd("stop")
    assert alone.stdout.strip() == line
    cost = expected()
    assert f"session {cost}" in line
    assert "5h window " + cost in line and "left)" in line  # the window opened 20 minutes ago
    hours, mins = re.search(r"\((\d+)h(\d+)m left\)", line).groups()
    minutes = int(hours) * 60 + int(mins)
    assert 3 * 60 + 39 <= minutes <= 4 * 60 + 41  # the window opened at the hour of its first request
    assert line.startswith("today ")  # today's cost (its day depends on the clock; the window's is in it or yesterday's)


def test_odd_input_is_no_failure(settings):
    for stdin in ("", "not json", json.dumps({"session_id": "../../etc/passwd"}), json.dumps([1, 2])):
        done = run(stdin)
        assert done.returncode == 0 and done.stdout.count("\n") == 1, (stdin, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
