#!/usr/bin/env python3
"""Shipping benchmark: `zerg ship` over loopback against `zergd import`, same run.

    python bench/bench_ship.py [--mb 200] [--seed 1] [--appends 300] [--rate 10]

1. `zergd import` of the grown corpus (see bench_import.py) into one home:
   the local import throughput, the yardstick.
2. A second daemon on another home and port, with an ingest token; `zerg
   ship` sends the first home's archive to it (the other side archives and
   indexes every byte before it acknowledges).  Throughput as a ratio to
   the import's (goal >= 0.5x); the receiving side's archive is then
   compared file by file (sha256) with the sender's.
3. The first home's daemon is started with --ship-to; lines are appended to
   one of its sources, and each is timed from the write until the receiving
   side's index finds it (read-only, in-process): append -> searchable
   there (goal p99 < 1 s).
"""

from __future__ import annotations

import argparse
import hashlib
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

from bench_import import corpus, raw_bytes, run_measured, zerg_env  # noqa: E402
from bench_live import append_lag  # noqa: E402


def zergd(env, *args, tool="zergd", check=True):
    proc = subprocess.run([sys.executable, "-c", f"from zergd.cli import {tool}; {tool}()", *args], env=env,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.exit(f"{tool} {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--appends", type=int, default=300)
    ap.add_argument("--rate", type=float, default=10, help="appends per second")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    work = a.out / "ship"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(src / "claude", work / "src" / "claude")
    shutil.copytree(src / "codex", work / "src" / "codex")
    raw = raw_bytes(work / "src")
    sender = zerg_env(work / "sender", work / "src")
    receiver = zerg_env(work / "receiver", work / "empty")
    receiver["ZERG_HOST"] = "receiver"
    port, sender_port = 18000 + os.getpid() % 1000, 19000 + os.getpid() % 1000
    url = f"http://127.0.0.1:{port}"

    import_s, import_rss, _ = run_measured([sys.executable, "-m", "zergd", "import"], env=sender)
    zergd(receiver, "start", "--port", str(port))
    try:
        token_file = work / "token"
        token_file.write_text(zergd(receiver, "token", "create", "bench").stdout.strip())
        ship_s, ship_rss, _ = run_measured(
            [sys.executable, "-c", "from zergd.cli import zerg; zerg()", "ship", "--to", url, "--token-file",
             str(token_file)], env=sender)
        same = digests(work / "sender" / "sessions" / "bench") == digests(work / "receiver" / "sessions" / "bench")
        lag = far_side_lag(a, work, sender, receiver, url, token_file, sender_port)
    finally:
        zergd(sender, "stop", check=False)
        zergd(receiver, "stop", check=False)
    mb = raw / 1e6
    result = {
        "corpus_mb": round(mb, 1),
        "import_s": round(import_s, 2), "import_mb_s": round(mb / import_s, 1), "import_peak_rss_mb": import_rss,
        "ship_s": round(ship_s, 2), "ship_mb_s": round(mb / ship_s, 1), "ship_peak_rss_mb": ship_rss,
        "ship_to_import_ratio": round(import_s / ship_s, 2),
        "byte_exact_on_the_other_side": same,
        "append_to_searchable_there_ms": lag,
        "targets": {"ship_to_import_ratio": ">= 0.5", "p99_ms": "< 1000"},
    }
    print(json.dumps(result, indent=2))


def far_side_lag(a, work: Path, sender: dict, receiver: dict, url: str, token_file: Path, sender_port: int) -> dict:
    zergd(sender, "start", "--port", str(sender_port), "--ship-to", url, "--token-file", str(token_file))
    os.environ.update({k: receiver[k] for k in ("ZERG_HOME", "CLAUDE_CONFIG_DIR", "CODEX_HOME", "ZERG_HOST")})
    from zergd.config import load_settings
    from zergd.index import open_index

    index = open_index(load_settings())
    target = work / "src" / "claude" / "projects" / "-bench-ship" / "live.jsonl"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"")
    time.sleep(2.0)  # the sender's watcher sees the new folder
    latencies, missed = append_lag(target, index, a.appends, a.rate, "shipbench", give_up=10)
    index.close()
    if not latencies:
        return {"n": 0, "missed": missed}
    return {"n": len(latencies), "missed": missed, "p50": round(statistics.median(latencies), 1),
            "p99": round(latencies[max(int(len(latencies) * 0.99) - 1, 0)], 1), "max": round(latencies[-1], 1)}


if __name__ == "__main__":
    main()
