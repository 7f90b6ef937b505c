#!/usr/bin/env python3
"""Checks `zerg stats --by day` against ccusage on the same Claude Code
transcripts: per-day input, output, cache-write and cache-read tokens must
agree exactly; cost may differ only by the price table (ccusage prices from
LiteLLM's table, zergd from genai-prices), and the script prints by how much.

    python bench/check_ccusage.py [--mb 200] [--real-only]

ccusage 20.0.24 (npm; later 20.x fetch a native binary) is installed into
bench/out/ccusage on first use and run with --offline --timezone UTC.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_import import SHARED, corpus  # noqa: E402

CCUSAGE = "ccusage@20.0.24"
FIELDS = (("inputTokens", "input_tokens"), ("outputTokens", "output_tokens"),
          ("cacheCreationTokens", "cache_creation_tokens"), ("cacheReadTokens", "cache_read_tokens"))


def ccusage_bin(out: Path) -> Path:
    home = out / "ccusage"
    binary = home / "node_modules" / ".bin" / "ccusage"
    if not binary.exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(home), CCUSAGE],
                       check=True)
    return binary


def compare(name: str, claude_projects: Path, work: Path, out: Path) -> dict:
    """ccusage's and zergd's daily report over one folder of Claude transcripts."""
    home = work / name
    shutil.rmtree(home, ignore_errors=True)
    (home / "claude").mkdir(parents=True)
    os.symlink(claude_projects, home / "claude" / "projects")
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(home / "claude"), CODEX_HOME=str(home / "codex"),
               ZERG_HOME=str(home / "zerg"), ZERG_HOST="bench")
    theirs = json.loads(subprocess.run([str(ccusage_bin(out)), "claude", "daily", "--json", "--offline", "--timezone", "UTC"],
                                       env=env, check=True, capture_output=True, text=True).stdout)["daily"]
    zerg = [sys.executable, "-m", "zergd"]
    subprocess.run([*zerg, "import"], env=env, check=True, capture_output=True)
    ours = json.loads(subprocess.run([sys.executable, "-c", "from zergd.cli import zerg; zerg()", "stats", "--by", "day",
                                      "--tz", "UTC", "--provider", "claude", "--json"],
                                     env=env, check=True, capture_output=True, text=True).stdout)["rows"]
    by_day = {r["key"]: r for r in ours}
    days, differ, cost_gap = 0, [], []
    for row in theirs:
        days += 1
        mine = by_day.pop(row["date"], None)
        if mine is None:
            differ.append({"day": row["date"], "only_in": "ccusage"})
            continue
        wrong = {ours_k: (row[theirs_k], mine[ours_k]) for theirs_k, ours_k in FIELDS if row[theirs_k] != mine[ours_k]}
        if wrong:
            differ.append({"day": row["date"], "ccusage_vs_zergd": wrong})
        if mine["cost_usd"] is not None:
            cost_gap.append((row["totalCost"], mine["cost_usd"]))
    for day, mine in by_day.items():
        if any(mine[k] for _t, k in FIELDS):
            differ.append({"day": day, "only_in": "zergd"})
    # Over all days: where only the day a copied response is counted on differs, these agree.
    totals = {ours_k: (sum(r[theirs_k] for r in theirs), sum(r[ours_k] for r in ours)) for theirs_k, ours_k in FIELDS}
    theirs_cost = sum(c for c, _ in cost_gap)
    ours_cost = sum(c for _, c in cost_gap)
    return {"days": days, "days_differing": len(differ), "differences": differ[:20],
            "all_days_ccusage_vs_zergd": totals,
            "cost_usd": {"ccusage": round(theirs_cost, 4), "zergd": round(ours_cost, 4),
                         "zergd_over_ccusage": round(ours_cost / theirs_cost, 4) if theirs_cost else None}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--real-only", action="store_true", help="only the real corpus, not a grown one")
    a = ap.parse_args()
    work = a.out / "ccusage-run"
    shutil.rmtree(work, ignore_errors=True)
    result = {"real_corpus": compare("real", SHARED / "corpus" / "claude", work, a.out)}
    if not a.real_only:
        grown = corpus(a.out, a.mb, a.seed)
        result[f"grown_{a.mb:g}mb"] = compare("grown", grown / "claude" / "projects", work, a.out)
    print(json.dumps(result, indent=2))
    sys.exit(1 if any(r["days_differing"] for r in result.values()) else 0)


if __name__ == "__main__":
    main()
