#!/usr/bin/env python3
"""How long `zerg stats` takes on a large archive (issue 13: --by day over
1 GB in under 300 ms): the whole command, wall clock, median of five runs,
beside `zerg --version` in the same run (the cost of starting Python and the
CLI at all), and the report alone in-process.

    python bench/bench_stats.py [--mb 1000]
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

from bench_import import corpus, raw_bytes, run_measured, zerg_env  # noqa: E402

ZERG = [sys.executable, "-c", "from zergd.cli import zerg; zerg()"]


def wall(cmd: list[str], env: dict, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    work = a.out / "stats-run"
    shutil.rmtree(work, ignore_errors=True)
    env = zerg_env(work / "zerg", src)
    import_s, _rss, _ = run_measured([sys.executable, "-m", "zergd", "import"], env=env)
    subprocess.run([*ZERG, "stats"], env=env, check=True, capture_output=True)  # rates looked up once, kept
    result = {"raw_mb": round(raw_bytes(src) / 1e6, 1), "import_seconds": round(import_s, 1),
              "zerg_version_ms": wall([*ZERG, "--version"], env)}
    for by in ("day", "month", "model", "session", "block"):
        result[f"zerg_stats_by_{by}_ms"] = wall([*ZERG, "stats", "--by", by, "--json"], env)
    os.environ.update(env)
    sys.path.insert(0, str(HERE.parent))
    from zergd.config import load_settings
    from zergd.index import open_index
    from zergd.prices import use_cache
    from zergd.usage import report

    settings = load_settings()
    use_cache(settings.home / "prices.json")
    index = open_index(settings)
    with index.reader() as reader:
        report(reader, "day")
        t0 = time.perf_counter()
        for _ in range(5):
            found = report(reader, "day")
        result["report_by_day_in_process_ms"] = round((time.perf_counter() - t0) / 5 * 1000)
        result["usage_rows_counted"] = found["totals"]["messages"]
    index.close()
    result["targets"] = {"zerg_stats_by_day_ms": "< 300"}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
