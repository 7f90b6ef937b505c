#!/usr/bin/env python3
"""Live daemon benchmark: append->searchable latency, idle RSS, idle CPU.

    python bench/bench_live.py [--mb 200] [--appends 500] [--rate 20]

Starts the real daemon (`zergd start`) on a copy of the grown corpus (see
bench_import.py), waits for its start-up backfill, then appends --appends
lines at --rate per second to a session file and times each until
`search` (in-process, read-only, as `zerg search` does) finds it.  Then reads
the daemon's RSS and CPU use while idle from /proc.
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
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_import import corpus  # noqa: E402


def proc_stat(pid: int) -> tuple[int, float]:
    """(RSS in MB, CPU seconds) of a process, from /proc."""
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) // 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


def append_lag(target: Path, index, appends: int, rate: float, tag: str, give_up: float) -> tuple[list, int]:
    """Append ``appends`` lines to ``target`` at ``rate`` per second, each with
    its own word, and time each until ``index`` finds it: (sorted latencies
    in ms, how many were not found within ``give_up`` seconds)."""
    latencies, missed = [], 0
    next_at = time.perf_counter()
    for i in range(appends):
        token = f"zq{i:05d}{tag}"
        line = json.dumps({"type": "user", "message": {"role": "user", "content": f"append {token}"}}) + "\n"
        with open(target, "a") as f:
            f.write(line)
        t_write = time.perf_counter()
        while True:
            with index.reader() as reader:
                seen = reader.search(token, limit=1)
            if seen:
                latencies.append((time.perf_counter() - t_write) * 1000)
                break
            if time.perf_counter() - t_write > give_up:
                missed += 1
                break
            time.sleep(0.002)
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.perf_counter()))
    return sorted(latencies), missed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--appends", type=int, default=500)
    ap.add_argument("--rate", type=float, default=20)
    ap.add_argument("--idle", type=float, default=20, help="seconds to measure idle CPU over")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    work = a.out / "live"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(src / "claude", work / "claude")
    shutil.copytree(src / "codex", work / "codex")
    os.environ.update(ZERG_HOME=str(work / "zerg"), CLAUDE_CONFIG_DIR=str(work / "claude"),
                      CODEX_HOME=str(work / "codex"), ZERG_HOST="bench")
    from zergd.client import probe as _probe
    from zergd.config import load_settings
    from zergd.index import open_index

    settings = load_settings()
    port = 18000 + os.getpid() % 1000
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "zergd", "start", "--port", str(port)], check=True, capture_output=True)
    started = time.perf_counter() - t0
    pid = _probe(settings)["pid"]
    while (_probe(settings) or {}).get("state") != "watching":
        time.sleep(0.2)
    backfill_s = time.perf_counter() - t0
    try:
        target = work / "claude" / "projects" / "-bench-live" / "live.jsonl"
        target.parent.mkdir(parents=True)
        target.write_bytes(b"")
        time.sleep(1.0)  # let the watcher see the new folder
        index = open_index(settings)
        latencies, missed = append_lag(target, index, a.appends, a.rate, "livebench", give_up=5)
        index.close()
        time.sleep(3)  # settle
        rss_before, cpu_before = proc_stat(pid)
        time.sleep(a.idle)
        rss_idle, cpu_after = proc_stat(pid)
    finally:
        subprocess.run([sys.executable, "-m", "zergd", "stop"], capture_output=True)
    latencies.sort()
    result = {
        "corpus_mb": a.mb,
        "start_to_answer_s": round(started, 2),
        "startup_backfill_s": round(backfill_s, 1),
        "append_to_searchable_ms": {
            "n": len(latencies), "missed": missed,
            "p50": round(statistics.median(latencies), 1),
            "p99": round(latencies[int(len(latencies) * 0.99) - 1], 1),
            "max": round(latencies[-1], 1),
        },
        "idle_rss_mb": rss_idle,
        "idle_cpu_percent": round((cpu_after - cpu_before) / a.idle * 100, 2),
        "targets": {"p50_ms": "< 100", "p99_ms": "< 300", "idle_rss_mb": "< 80", "idle_cpu": "~ 0"},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
