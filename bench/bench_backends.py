#!/usr/bin/env python3
"""SQLite beside PostgreSQL, same run, same corpus: import, index size, search,
append->searchable, and 20 concurrent search clients during a live backfill.

    python bench/bench_backends.py [--mb 200] [--clients 20] [--appends 200] [--import-only]

PostgreSQL is a throwaway cluster (tests/pgcluster.py) with fsync on, as a
real server runs, on this same machine: the daemon, the clients and the
server share its two cores.  For each backend:

- import: `zergd import` of the grown corpus (bench_import.py's), as a ratio
  to the baseline pipeline run in the same script, and its peak RSS;
- index size over raw bytes (PostgreSQL: the database's growth);
- search: ten queries, first page of 20 with snippets, in-process;
- live: `zergd start`, then --appends lines at 10/s, each timed until found;
- load: a fresh daemon backfilling the corpus while --clients threads search
  the HTTP API without pause; search latency under load, errors, and how
  much the load slowed the backfill (against the same backfill unloaded).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE), str(ROOT / "tests")]

from bench_import import QUERIES, SHARED, corpus, raw_bytes, run_measured, search_figures  # noqa: E402
from pgcluster import Cluster, free_port  # noqa: E402


def pct(samples: list[float]) -> dict:
    s = sorted(samples)
    if not s:
        return {"n": 0}
    at = lambda q: round(s[min(len(s) - 1, int(len(s) * q))], 1)  # noqa: E731
    return {"n": len(s), "p50_ms": round(statistics.median(s), 1), "p95_ms": at(0.95), "p99_ms": at(0.99)}


def environment(work: Path, src: Path, url: str | None) -> dict:
    env = dict(os.environ, ZERG_HOME=str(work / "zerg"), CLAUDE_CONFIG_DIR=str(work / "claude"),
               CODEX_HOME=str(work / "codex"), ZERG_HOST="bench", ZERG_RESCAN_INTERVAL="120")
    env.pop("ZERG_DATABASE_URL", None)
    if url:
        env["ZERG_DATABASE_URL"] = url
    return env


def fresh_sources(work: Path, src: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for name in ("claude", "codex"):
        shutil.copytree(src / name, work / name)


def zergd(env, *args, check=True):
    return subprocess.run([sys.executable, "-m", "zergd", *args], env=env, check=check, capture_output=True,
                          text=True)


def get_json(url: str, timeout: float = 30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def wait_state(base: str, state: str, timeout: float = 600) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            if get_json(f"{base}/api/status", timeout=5).get("state") == state:
                return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"daemon never reached {state}")


def index_bytes(env, url: str | None, cluster: Cluster | None) -> int:
    if url is None:
        return sum(p.stat().st_size for p in Path(env["ZERG_HOME"]).glob("index.db*"))
    import psycopg

    with psycopg.connect(url) as conn:
        size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    with psycopg.connect(cluster.database("empty_probe")) as conn:
        empty = conn.execute("select pg_database_size(current_database())").fetchone()[0]
    return size - empty


def measure_import(work, src, url, cluster, raw) -> dict:
    fresh_sources(work, src)
    env = environment(work, src, url)
    seconds, rss, _ = run_measured([sys.executable, "-m", "zergd", "import"], env=env)
    os.environ.update({k: v for k, v in env.items() if k.startswith(("ZERG_", "CLAUDE_", "CODEX_"))})
    os.environ.pop("ZERG_DATABASE_URL", None)
    from zergd.config import load_settings
    from zergd.index import open_index

    index = open_index(load_settings(), url)
    with index.reader() as reader:
        search = search_figures(reader)
    index.close()
    return {"seconds": round(seconds, 2), "mb_s": round(raw / seconds / 1e6, 1), "peak_rss_mb": rss,
            "index_over_raw": round(index_bytes(env, url, cluster) / raw, 3), "search": search}


def measure_live(work, src, url, appends: int) -> dict:
    """Append->searchable through the running daemon (after its backfill)."""
    fresh_sources(work, src)
    env = environment(work, src, url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    zergd(env, "start", "--port", str(port))
    try:
        backfill_s = wait_state(base, "watching")
        target = work / "claude" / "projects" / "-bench-live" / "live.jsonl"
        target.parent.mkdir(parents=True)
        target.write_bytes(b"")
        time.sleep(1.0)
        latencies, missed = [], 0
        for i in range(appends):
            token = f"zq{i:05d}livebench"
            with open(target, "a") as f:
                f.write(json.dumps({"type": "user", "message": {"role": "user", "content": f"append {token}"}}) + "\n")
            t0 = time.perf_counter()
            while not get_json(f"{base}/api/search?q={token}&limit=1")["hits"]:
                if time.perf_counter() - t0 > 5:
                    missed += 1
                    break
                time.sleep(0.002)
            else:
                latencies.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.1)
    finally:
        zergd(env, "stop", check=False)
    return {"startup_backfill_s": round(backfill_s, 1), "append_to_searchable": {**pct(latencies), "missed": missed}}


def measure_load(work, src, url, cluster, clients: int) -> dict:
    """A fresh daemon backfills the corpus; ``clients`` threads search its API
    the whole time, then for 10 s more once it is watching."""
    results = {}
    for loaded in (False, True):
        fresh_sources(work, src)
        if url:
            url = cluster.database(f"load{int(loaded)}")
        env = environment(work, src, url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        stop = threading.Event()
        during, after, errors = [], [], []
        backfilling = threading.Event()
        backfilling.set()

        def client(n: int):
            i = n
            while not stop.is_set():
                q = urllib.parse.quote(QUERIES[i % len(QUERIES)])
                i += 1
                t0 = time.perf_counter()
                try:
                    get_json(f"{base}/api/search?q={q}", timeout=30)
                except urllib.error.HTTPError as e:
                    if e.code != 503:  # 503: the index is still being created
                        errors.append(e.code)
                    time.sleep(0.05)
                    continue
                except OSError:
                    time.sleep(0.05)  # not listening yet
                    continue
                (during if backfilling.is_set() else after).append((time.perf_counter() - t0) * 1000)

        zergd(env, "start", "--port", str(port))
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)] if loaded else []
        try:
            for t in threads:
                t.start()
            backfill_s = wait_state(base, "watching")
            backfilling.clear()
            if loaded:
                time.sleep(10)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
            zergd(env, "stop", check=False)
        results["loaded" if loaded else "unloaded"] = {
            "backfill_s": round(backfill_s, 1),
            **({"search_during_backfill": pct(during), "search_after": pct(after), "errors": len(errors)}
               if loaded else {}),
        }
    results["backfill_slowdown"] = round(results["loaded"]["backfill_s"] / results["unloaded"]["backfill_s"], 2)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--appends", type=int, default=200)
    ap.add_argument("--import-only", action="store_true", help="skip the live and load runs (a larger --mb)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    raw = raw_bytes(src)
    work = a.out / "backends"
    cluster = Cluster(durable=True)
    try:
        base_s, _rss, _out = run_measured([sys.executable, str(SHARED / "tools" / "baseline_pipeline.py"), str(src),
                                           str(a.out / "backends-baseline")])
        shutil.rmtree(a.out / "backends-baseline", ignore_errors=True)
        result = {"raw_mb": round(raw / 1e6, 1), "baseline_s": round(base_s, 2), "clients": a.clients}
        for name in ("sqlite", "postgresql"):
            url = cluster.database("bench") if name == "postgresql" else None
            imported = measure_import(work, src, url, cluster, raw)
            imported["ratio_to_baseline"] = round(base_s / imported["seconds"], 3)
            if url:
                url = cluster.database("live")
            result[name] = {"import": imported}
            if not a.import_only:
                result[name]["live"] = measure_live(work, src, url, a.appends)
                result[name]["load"] = measure_load(work, src, url, cluster, a.clients)
        result["postgresql_over_sqlite"] = {
            "import_time": round(result["postgresql"]["import"]["seconds"] / result["sqlite"]["import"]["seconds"], 2),
            "search_p95": round(result["postgresql"]["import"]["search"]["p95_ms"]
                                / result["sqlite"]["import"]["search"]["p95_ms"], 2),
        }
        print(json.dumps(result, indent=2))
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
