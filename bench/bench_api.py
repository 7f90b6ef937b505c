#!/usr/bin/env python3
"""HTTP API benchmark on the grown corpus: p50/p95 of /api/search and of the
session list, and the time from `zergd start` to the first 200 on /.

    python bench/bench_api.py [--mb 200] [--rounds 10]

Runs against the real daemon over loopback with one keep-alive connection,
as a browser tab would.  Uses the corpus made by bench_import.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_import import QUERIES, corpus  # noqa: E402


def percentiles(samples: list[float]) -> dict:
    samples = sorted(samples)
    return {"n": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2), "max_ms": round(samples[-1], 2)}


def timed_get(conn, path: str) -> float:
    t0 = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise SystemExit(f"{path}: {resp.status}")
    return (time.perf_counter() - t0) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    work = a.out / "api"
    shutil.rmtree(work, ignore_errors=True)
    env = dict(os.environ, ZERG_HOME=str(work / "zerg"), CLAUDE_CONFIG_DIR=str(src / "claude"),
               CODEX_HOME=str(src / "codex"), ZERG_HOST="bench")
    subprocess.run([sys.executable, "-m", "zergd", "import"], env=env, check=True, capture_output=True)
    port = 19000 + os.getpid() % 1000

    t0 = time.perf_counter()
    subprocess.Popen([sys.executable, "-m", "zergd", "start", "--port", str(port)], env=env,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.005)
    first_page_s = time.perf_counter() - t0
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        sessions = json.loads((conn.request("GET", "/api/sessions?limit=5"), conn.getresponse().read())[1])
        project = sessions["sessions"][0]["project"]
        list_paths = ["/api/sessions?limit=50", "/api/sessions?limit=50&subagents=true",
                      "/api/sessions?" + urlencode({"limit": 50, "project": project}),
                      "/api/sessions?limit=50&provider=codex", "/api/sessions?limit=50&since=2026-01-01"]
        search_paths = ["/api/search?" + urlencode({"q": q, "limit": 20}) for q in QUERIES]
        for path in list_paths + search_paths:  # warm up, as a browser tab would have
            timed_get(conn, path)
        search_ms, list_ms = [], []
        for _ in range(a.rounds):
            search_ms += [timed_get(conn, p) for p in search_paths]
            list_ms += [timed_get(conn, p) for p in list_paths]
    finally:
        subprocess.run([sys.executable, "-m", "zergd", "stop"], env=env, capture_output=True)
    print(json.dumps({
        "corpus_mb": a.mb,
        "start_to_first_200_s": round(first_page_s, 2),
        "api_search": percentiles(search_ms),
        "api_sessions": percentiles(list_ms),
        "targets": {"p95_ms": "< 15", "start_to_first_200_s": "< 1.5"},
    }, indent=2))


if __name__ == "__main__":
    main()
