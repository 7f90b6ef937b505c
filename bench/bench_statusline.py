#!/usr/bin/env python3
"""`zerg statusline` as Claude Code runs it (a command on every prompt, the
session as JSON on stdin), timed on the grown corpus with the daemon up,
against Python doing nothing and `zerg --version` in the same run.

    python bench/bench_statusline.py [--mb 200] [--runs 40]

The target is < 100 ms per run; the baseline says how much of it is only
starting Python on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_import import corpus  # noqa: E402


def timed(cmd: list[str], stdin: str, runs: int) -> dict:
    took = []
    for _ in range(runs):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
        took.append((time.perf_counter() - t0) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{cmd} failed: {done.stderr}")
    took.sort()
    return {"p50_ms": round(statistics.median(took), 1), "p95_ms": round(took[int(len(took) * 0.95) - 1], 1),
            "max_ms": round(took[-1], 1), "last_output": done.stdout.strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    work = a.out / "statusline"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    os.environ.update(ZERG_HOME=str(work / "zerg"), CLAUDE_CONFIG_DIR=str(src / "claude"),
                      CODEX_HOME=str(src / "codex"), ZERG_HOST="bench")
    from zergd.client import probe

    from zergd.config import load_settings

    settings = load_settings()
    zerg = str(Path(sys.executable).with_name("zerg"))
    session = next((src / "claude" / "projects").rglob("*.jsonl")).stem
    stdin = json.dumps({"session_id": session, "model": {"id": "claude-sonnet-4-5", "display_name": "Sonnet"},
                        "workspace": {"current_dir": "/tmp"}, "cost": {"total_cost_usd": 0.5}})
    port = 19000 + os.getpid() % 1000
    subprocess.run([sys.executable, "-m", "zergd", "start", "--port", str(port)], check=True, capture_output=True)
    try:
        while (probe(settings) or {}).get("state") != "watching":
            time.sleep(0.2)
        result = {
            "corpus_mb": a.mb,
            "python_doing_nothing": timed([sys.executable, "-c", "pass"], "", a.runs),
            "zerg_version": timed([zerg, "--version"], "", a.runs),
            "zerg_statusline": timed([zerg, "statusline"], stdin, a.runs),
        }
    finally:
        subprocess.run([sys.executable, "-m", "zergd", "stop"], capture_output=True)
    result["statusline_over_python"] = round(result["zerg_statusline"]["p50_ms"]
                                             / result["python_doing_nothing"]["p50_ms"], 2)
    result["targets"] = {"zerg_statusline_p95_ms": "< 100"}
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
