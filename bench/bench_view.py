#!/usr/bin/env python3
"""The reader's figures (issue 12), each against a yardstick run in the same
process or script:

- search p50/p95 of zergd (as `zerg search` runs: 20 hits, snippets) against
  claude-code-log 1.7.0's own SQLite full-text search over the same Claude
  transcripts (installed into bench/out/ccl-venv on first use);
- the index's size over the raw transcripts;
- a 5,000-line session opened in Chromium: time to the first turn painted,
  against a 20-line session in the same browser, and frame times while
  scrolling through it.

    python bench/bench_view.py [--mb 200] [--skip-ccl] [--skip-browser]
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
sys.path.insert(0, str(HERE))

from bench_import import QUERIES, corpus, index_bytes, raw_bytes, run_measured, search_figures, zerg_env  # noqa: E402

CCL_VERSION = "1.7.0"
CCL_SEARCH = r"""
import json, sqlite3, statistics, sys, time
from claude_code_log import search as s
conn = sqlite3.connect(sys.argv[1])
s.ensure_index(conn)
conn.commit()
queries = json.loads(sys.argv[2])
for q in queries:
    s.search(conn, q, limit=20)
times, hits = [], {}
for _ in range(5):
    for q in queries:
        t0 = time.perf_counter()
        found = s.search(conn, q, limit=20)
        times.append((time.perf_counter() - t0) * 1000)
        hits[q] = len(found)
times.sort()
print(json.dumps({"p50_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
                  "max_ms": round(times[-1], 2), "hits": hits}))
"""


def ccl_python(out: Path) -> Path:
    venv = out / "ccl-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"claude-code-log=={CCL_VERSION}"], check=True)
    return python


def claude_code_log(out: Path, src: Path, work: Path) -> dict:
    """Build claude-code-log's cache and search index over the Claude part of
    the corpus (it does not read Codex), then time its search."""
    python = ccl_python(out)
    projects = work / "ccl" / "projects"
    shutil.copytree(src / "claude" / "projects", projects)
    cli = python.parent / "claude-code-log"
    build_s, _rss, _ = run_measured([str(cli), "--all-projects", "--projects-dir", str(projects), "--format", "json",
                                     "-o", str(work / "ccl" / "out")], env=dict(os.environ, HOME=str(work / "ccl")))
    db = projects / "claude-code-log-cache.db"
    t0 = time.perf_counter()
    figures = json.loads(subprocess.run([str(python), "-c", CCL_SEARCH, str(db), json.dumps(QUERIES)],
                                        check=True, capture_output=True, text=True).stdout)
    figures["cache_build_seconds"] = round(build_s, 2)
    figures["index_seconds_and_timing"] = round(time.perf_counter() - t0, 2)
    figures["db_over_raw_claude"] = round(sum(p.stat().st_size for p in projects.glob("claude-code-log-cache.db*"))
                                          / raw_bytes(src / "claude"), 3)
    return figures


def long_session(path: Path, turns: int = 2500) -> None:
    """A 5,000-line session: prompts and answers with some Markdown and code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    parent = None
    with open(path, "wb") as f:
        for i in range(turns):
            ts = f"2026-05-05T10:{i // 60 % 60:02d}:{i % 60:02d}Z"
            f.write(json.dumps({"type": "user", "uuid": f"u{i}", "parentUuid": parent, "timestamp": ts, "cwd": "/w",
                                "message": {"role": "user", "content": f"question {i}: why does test_{i} fail?"}}).encode() + b"\n")
            f.write(json.dumps({"type": "assistant", "uuid": f"a{i}", "parentUuid": f"u{i}", "timestamp": ts,
                                "message": {"id": f"m{i}", "role": "assistant", "model": "claude-opus-4-6",
                                            "usage": {"input_tokens": 10, "output_tokens": 50},
                                            "content": [{"type": "text", "text": f"Answer {i}: the **fixture** leaks.\n\n"
                                                         "```python\ndef test():\n    assert value == 42\n```"}]}}).encode() + b"\n")
            parent = f"a{i}"


def browser_figures(work: Path) -> dict:
    from playwright.sync_api import sync_playwright

    home = work / "view"
    claude = home / "claude"
    long_session(claude / "projects" / "-w" / "long-session.jsonl")
    long_session(claude / "projects" / "-w" / "short-session.jsonl", turns=10)
    env = dict(os.environ, ZERG_HOME=str(home / "zerg"), CLAUDE_CONFIG_DIR=str(claude), CODEX_HOME=str(home / "codex"))
    port = 18000 + os.getpid() % 1000
    zergd = [sys.executable, "-m", "zergd"]
    subprocess.run([*zergd, "start", "--port", str(port)], env=env, check=True, capture_output=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            status = json.loads(subprocess.run([*zergd, "status", "--json"], env=env, capture_output=True, text=True).stdout)
            if status.get("state") == "watching":
                break
            time.sleep(0.1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/")  # static files cached, as for someone already using the Timeline

            def open_ms(sid: str) -> float:
                t0 = time.perf_counter()
                page.goto(f"{url}/s/{sid}")
                page.wait_for_selector(".turn")
                return (time.perf_counter() - t0) * 1000

            rounds = 5
            short = sorted(open_ms("short-session") for _ in range(rounds))
            long = sorted(open_ms("long-session") for _ in range(rounds))
            # Scroll a screen per frame through the long session; record frame gaps.
            frames = page.evaluate("""async () => {
                const gaps = []; let last = performance.now();
                for (let i = 0; i < 240; i++) {
                    window.scrollBy(0, 900);
                    await new Promise(r => requestAnimationFrame(r));
                    const now = performance.now(); gaps.push(now - last); last = now;
                }
                return {gaps, turns: document.querySelectorAll('.turn').length};
            }""")
            browser.close()
    finally:
        subprocess.run([*zergd, "stop"], env=env, capture_output=True)
    gaps = sorted(frames["gaps"])
    return {"open_5000_lines_ms": {"median": round(statistics.median(long)), "max": round(long[-1])},
            "open_20_lines_ms": {"median": round(statistics.median(short)), "max": round(short[-1])},
            "open_ratio_long_over_short": round(statistics.median(long) / statistics.median(short), 2),
            "scroll_frame_ms": {"p50": round(statistics.median(gaps), 1), "p95": round(gaps[int(len(gaps) * 0.95) - 1], 1),
                                "max": round(gaps[-1], 1)},
            "turns_rendered_after_240_screens": frames["turns"],
            "targets": {"open_5000_lines_ms": "< 1000"}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--skip-ccl", action="store_true", help="no claude-code-log comparison")
    ap.add_argument("--skip-browser", action="store_true", help="no Chromium figures")
    a = ap.parse_args()
    src = corpus(a.out, a.mb, a.seed)
    raw = raw_bytes(src)
    work = a.out / "view-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    import_s, _rss, _ = run_measured([sys.executable, "-m", "zergd", "import"], env=zerg_env(work / "zerg", src))
    index = index_bytes(work / "zerg")

    os.environ["ZERG_HOME"] = str(work / "zerg")
    sys.path.insert(0, str(ROOT))
    from zergd.config import load_settings
    from zergd.index import open_index

    idx = open_index(load_settings())
    with idx.reader() as reader:
        ours = search_figures(reader)
    idx.close()
    result = {"raw_mb": round(raw / 1e6, 1), "import_seconds": round(import_s, 2),
              "index_over_raw": round(index / raw, 3), "search": ours,
              "targets": {"index_over_raw": "<= 0.35", "search_p95": "<= claude-code-log's"}}
    if not a.skip_ccl:
        ccl = claude_code_log(a.out, src, work)
        result["claude_code_log_search"] = ccl
        result["search_p95_over_claude_code_log"] = round(ours["p95_ms"] / ccl["p95_ms"], 2)
    if not a.skip_browser:
        result["browser"] = browser_figures(work)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
