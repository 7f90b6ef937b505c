#!/usr/bin/env python3
"""Backfill benchmark: zergd import against the baseline pipeline, same run.

    python bench/bench_import.py [--mb 200] [--seed 1] [--out bench/out] [--against REF]

Grows a corpus with ../shared/tools/make_corpus.py (kept between runs),
runs ../shared/tools/baseline_pipeline.py and `zergd import` on it, each in
its own process, and prints MB/s of each and their ratio, peak RSS of the
import, index size / raw size, and search latency (first page of 20 with
snippets, in-process) for ten fixed queries.  Then it touches every source
and imports again: every file's archived prefix is re-proven by one
sequential read (the rescan's middle-rewrite check), and that pass is timed.
``--against REF`` also imports with the code of git REF (a worktree), the
two alternating, to compare this code's throughput with an earlier one's.
Figures are ratios or percentiles from this one run: the machine is shared
and noisy.
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
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
QUERIES = ["error", "migration", "pytest", "def main", "useEffect", "permission denied",
           "docker compose", "git rebase", "TypeError", "sqlite"]


def run_measured(cmd, env=None, cwd=None) -> tuple[float, int, str]:
    """(seconds, peak RSS in MB, stdout) of a child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd} failed: {err.decode()[-2000:]}")
    return seconds, usage.ru_maxrss // 1024, out.decode()


def corpus(out: Path, mb: float, seed: int) -> Path:
    target = out / f"corpus-{mb:g}mb-seed{seed}"
    if not (target / ".done").exists():
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run([sys.executable, str(SHARED / "tools" / "make_corpus.py"), "--out", str(target),
                        "--mb", str(mb), "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
        (target / ".done").write_text("")
    return target


def zerg_env(home: Path, src: Path) -> dict:
    """The environment for a zergd whose home is ``home`` reading the corpus ``src``."""
    return dict(os.environ, ZERG_HOME=str(home), CLAUDE_CONFIG_DIR=str(src / "claude"),
                CODEX_HOME=str(src / "codex"), ZERG_HOST="bench")


def index_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("index.db*"))


def raw_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.jsonl"))


def search_latency(zerg_home: Path) -> dict:
    os.environ["ZERG_HOME"] = str(zerg_home)
    sys.path.insert(0, str(ROOT))
    from zergd.config import load_settings
    from zergd.index import open_index

    index = open_index(load_settings())
    with index.reader() as reader:
        return search_figures(reader)


def search_figures(reader) -> dict:
    """p50/p95/max of the ten queries, five rounds, after one warm-up round."""
    # As `zerg search` runs by default: first page of 20, snippets, 3 per session.
    for q in QUERIES:  # warm the page cache once, as a running daemon would be
        reader.search(q, limit=20, per_session=3)
    times, hits = [], {}
    for _round in range(5):
        for q in QUERIES:
            t0 = time.perf_counter()
            found = reader.search(q, limit=20, per_session=3)
            times.append((time.perf_counter() - t0) * 1000)
            hits[q] = len(found)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            "max_ms": round(times[-1], 2), "hits": hits}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--against", metavar="REF", help="also compare import throughput with git REF's code")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    raw = raw_bytes(src)

    work = a.out / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base_s, base_rss, base_out = run_measured([sys.executable, str(SHARED / "tools" / "baseline_pipeline.py"),
                                               str(src), str(work / "baseline")])
    env = zerg_env(work / "zerg", src)
    zergd = [sys.executable, "-m", "zergd"]  # this environment's zergd, whatever PATH says
    ours_s, ours_rss, _ = run_measured([*zergd, "import"], env=env)
    index = index_bytes(work / "zerg")
    archive = raw_bytes(work / "zerg" / "sessions")
    assert archive == raw, f"archive holds {archive} bytes, corpus {raw}"

    # Every file touched: the next pass re-proves each archived prefix (CRC over one sequential read).
    for path in list((src / "claude").rglob("*.jsonl")) + list((src / "codex").rglob("*.jsonl")):
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    check_s, _rss, _ = run_measured([*zergd, "import"], env=env)
    idle_s, _rss, _ = run_measured([*zergd, "import"], env=env)

    result = {
        "raw_mb": round(raw / 1e6, 1),
        "baseline": {"mb_s": round(raw / base_s / 1e6, 1), "seconds": round(base_s, 2), "peak_rss_mb": base_rss,
                     "reported": json.loads(base_out)},
        "zergd_import": {"mb_s": round(raw / ours_s / 1e6, 1), "seconds": round(ours_s, 2), "peak_rss_mb": ours_rss},
        "ratio": round(base_s / ours_s, 3),
        "full_check_pass": {"seconds": round(check_s, 2), "mb_s": round(raw / check_s / 1e6, 1),
                            "over_import_time": round(check_s / ours_s, 3)},
        "unchanged_pass_seconds": round(idle_s, 2),
        "index_over_raw": round(index / raw, 3),
        "search": search_latency(work / "zerg"),
        "targets": {"ratio": ">= 0.75", "peak_rss_mb": "< 100", "index_over_raw": "<= 0.35", "search_p95_ms": "< 10"},
    }
    if a.against:
        result["against"] = against(a.against, a.out, src, raw, work)
    print(json.dumps(result, indent=2))


def against(ref: str, out: Path, src: Path, raw: int, work: Path) -> dict:
    """This code's import against REF's, alternating, best of two each."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True,
                         text=True).stdout.strip()
    tree = out / f"ref-{sha[:12]}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), sha], check=True,
                       capture_output=True)
    times = {"this": [], ref: []}
    for _round in range(2):
        for name, code in (("this", ROOT), (ref, tree)):
            home = work / f"zerg-{len(times[name])}-{name.replace('/', '_')}"
            shutil.rmtree(home, ignore_errors=True)
            env = dict(os.environ, ZERG_HOME=str(home), CLAUDE_CONFIG_DIR=str(src / "claude"),
                       CODEX_HOME=str(src / "codex"), ZERG_HOST="bench", PYTHONPATH=str(code))
            # cwd too: `python -m` puts it first on sys.path
            seconds, _rss, _ = run_measured([sys.executable, "-m", "zergd", "import"], env=env, cwd=code)
            times[name].append(seconds)
            shutil.rmtree(home, ignore_errors=True)
    best = {name: min(t) for name, t in times.items()}
    return {"ref": ref, "this_mb_s": round(raw / best["this"] / 1e6, 1), "ref_mb_s": round(raw / best[ref] / 1e6, 1),
            "this_over_ref": round(best[ref] / best["this"], 3)}


if __name__ == "__main__":
    main()
