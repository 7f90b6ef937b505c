#!/usr/bin/env python3
"""Checks `zerg stats --by day` against ccusage on the same Claude Code
transcripts.  Per day, input, output, cache-write and cache-read tokens
either agree, or differ by rules each side counts by on purpose: the script
counts the raw files itself twice, once by ccusage's rules and once by
zergd's (README, Usage and cost), and names for every differing day the
rules whose lines fall on it.  It passes only when ccusage's report equals
the first count, zergd's the second, and every difference is named; cost
may differ only by the price table (ccusage prices from LiteLLM's table,
zergd from genai-prices), and the script prints by how much.

    python bench/check_ccusage.py [--mb 200] [--real-only]

ccusage 20.0.24 (npm; later 20.x fetch a native binary) is installed into
bench/out/ccusage on first use and run with --offline --timezone UTC.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import zlib
from collections import defaultdict
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


# The rules by which the two count differently, as the README lists them.
RULES = {
    "microsecond-timestamps": "ccusage drops lines whose time has more than 3 decimals; zergd counts them",
    "repeated-lines-without-request-id": "a response written over several lines with no requestId: ccusage counts"
                                         " each line, zergd the response once",
    "no-message-id": "a response with no message id: ccusage counts each line, zergd once per requestId (else uuid)",
    "two-responses-one-id": "different responses a proxy gave one id: ccusage counts the first, zergd each",
    "copy-day": "a copied response's day: ccusage the first copy in its file order, zergd the earliest copy",
    "cache-write-parts": "cache writes: ccusage cache_creation_input_tokens, zergd the 5-minute and 1-hour parts",
}
KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]\d\d:\d\d)$")


def _n(v) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def replies(projects: Path):
    """(file, ts, message id, request id, uuid, model, usage) of every assistant
    line with usage, files in ccusage's order (sorted paths), lines in file order."""
    for path in sorted(projects.rglob("*.jsonl")):
        if "tool-results" in path.parts:
            continue
        with open(path, "rb") as f:
            for raw in f:
                try:
                    o = json.loads(raw)
                except ValueError:
                    continue
                m = o.get("message") if isinstance(o, dict) else None
                if not isinstance(m, dict) or not isinstance(m.get("usage"), dict) or not isinstance(o.get("timestamp"), str):
                    continue
                yield (str(path), o["timestamp"], m.get("id") if isinstance(m.get("id"), str) else None,
                       o.get("requestId") if isinstance(o.get("requestId"), str) else None,
                       o.get("uuid"), m.get("model"), m["usage"])


def independent_counts(projects: Path):
    """Per-day sums counted from the raw files by ccusage's rules and by
    zergd's, and per day the rules whose lines fall on it."""
    theirs = defaultdict(lambda: [0, 0, 0, 0])
    ours = defaultdict(lambda: [0, 0, 0, 0])
    fired = defaultdict(set)
    seen_theirs: dict = {}  # ccusage's (message id, request id) -> [first day, fields max]
    groups: dict = {}  # zergd's response key -> [earliest ts, fields max, first file, days seen]
    by_id: dict = defaultdict(set)  # (message id, request id) -> response keys (fingerprints)
    for path, ts, mid, req, uuid, model, u in replies(projects):
        day = ts[:10]
        parts = u.get("cache_creation") if isinstance(u.get("cache_creation"), dict) else None
        split = parts is not None and ("ephemeral_5m_input_tokens" in parts or "ephemeral_1h_input_tokens" in parts)
        plain_cc = _n(u.get("cache_creation_input_tokens"))
        cc = _n(parts.get("ephemeral_5m_input_tokens")) + _n(parts.get("ephemeral_1h_input_tokens")) if split else plain_cc
        if split and cc != plain_cc:
            fired[day].add("cache-write-parts")
        fields_theirs = (_n(u.get("input_tokens")), _n(u.get("output_tokens")), plain_cc, _n(u.get("cache_read_input_tokens")))
        fields_ours = (fields_theirs[0], fields_theirs[1], cc, fields_theirs[3])
        # ccusage: skips a time it cannot read; dedups by message id + request id when it has both.
        if not ISO_MS.match(ts):
            fired[day].add("microsecond-timestamps")
        else:
            key = (mid, req) if mid and req else None
            if key is None:
                for i, v in enumerate(fields_theirs):
                    theirs[day][i] += v
            else:  # the largest value of each field, on the first copy's day
                kept = seen_theirs.setdefault(key, [day, [0, 0, 0, 0]])
                kept[1] = [max(a, b) for a, b in zip(kept[1], fields_theirs)]
            if not req and mid:
                fired[day].add("repeated-lines-without-request-id")
            if not mid:
                fired[day].add("no-message-id")
        # zergd: one response per (id or request or uuid, request, what it was asked with).
        ident = mid or (f"request:{req}" if req else f"line:{uuid}" if uuid else None)
        if ident is None:
            continue
        model_name = model if isinstance(model, str) and model != "<synthetic>" else ""
        asked = zlib.crc32(f"{model_name}|{fields_ours[0]}|{cc}|{fields_ours[3]}".encode())
        key = (ident, req or "", asked)
        by_id[(ident, req or "")].add(asked)
        if len(by_id[(ident, req or "")]) > 1:
            fired[day].add("two-responses-one-id")
        g = groups.get(key)
        if g is None:
            groups[key] = [ts, list(fields_ours), path, {day}]
            continue
        g[1] = [max(a, b) for a, b in zip(g[1], fields_ours)]
        g[3].add(day)
        if path != g[2] and ts < g[0]:
            fired[day].add("copy-day")
        g[0] = min(g[0], ts)
    for day, fields in seen_theirs.values():
        for i, v in enumerate(fields):
            theirs[day][i] += v
    for ts, fields, _path, days in groups.values():
        for i, v in enumerate(fields):
            ours[ts[:10]][i] += v
        if len(days) > 1:
            for d in days:
                fired[d].add("copy-day")
    return theirs, ours, fired


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
    model_theirs, model_ours, fired = independent_counts(claude_projects)
    theirs_by_day = {r["date"]: [r[t] for t, _o in FIELDS] for r in theirs}
    ours_by_day = {r["key"]: [r[o] for _t, o in FIELDS] for r in ours if r["key"]}
    days = sorted(set(theirs_by_day) | set(ours_by_day))
    zero = [0, 0, 0, 0]
    differ, unexplained = [], []
    for day in days:
        c, z = theirs_by_day.get(day, zero), ours_by_day.get(day, zero)
        if c != list(model_theirs.get(day, zero)):
            unexplained.append({"day": day, "ccusage": c, "counted_by_its_rules": list(model_theirs.get(day, zero))})
        if z != list(model_ours.get(day, zero)):
            unexplained.append({"day": day, "zergd": z, "counted_by_its_rules": list(model_ours.get(day, zero))})
        if c != z:
            named = sorted(fired.get(day, ()))
            entry = {"day": day, "ccusage_vs_zergd": {k: (a, b) for k, a, b in zip(KEYS, c, z) if a != b},
                     "rules": named}
            differ.append(entry)
            if not named:
                unexplained.append(entry)
    totals = {k: (sum(v[i] for v in theirs_by_day.values()), sum(v[i] for v in ours_by_day.values()))
              for i, k in enumerate(KEYS)}
    cost_pairs = [(r["totalCost"], o["cost_usd"]) for r in theirs for o in ours
                  if o["key"] == r["date"] and o["cost_usd"] is not None]
    theirs_cost = sum(c for c, _ in cost_pairs)
    ours_cost = sum(c for _, c in cost_pairs)
    return {"days": len(days), "days_differing": len(differ), "differences": differ,
            "unexplained": unexplained,
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
    result["rules"] = RULES
    print(json.dumps(result, indent=2, ensure_ascii=False))
    # Differences are fine when each is a named rule; anything else fails.
    sys.exit(1 if any(r["unexplained"] for r in result.values() if isinstance(r, dict) and "unexplained" in r) else 0)


if __name__ == "__main__":
    main()
