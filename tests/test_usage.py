"""Usage and cost (zerg stats, /api/stats?by=): tokens counted once per API
response, Codex's running totals by their rises, days in the asked time
zone, prices from genai-prices with long-context tiers and hour-long cache
writes, unknown models never priced.  On both backends."""

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from zergd.api.app import create_app
from zergd.cli import zerg
from zergd.index import open_index
from zergd.prices import TokenSums, rates
from zergd.usage import report
from zergd.watch.backfill import backfill

pytestmark = pytest.mark.usefixtures("backend")


def claude_session(settings, name, replies):
    """Assistant replies: (timestamp, message id, request id, model, usage)."""
    folder = settings.agent_dir("claude") / "projects" / "-work-usage"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.jsonl", "a") as f:
        f.write(json.dumps({"type": "user", "timestamp": replies[0][0], "cwd": "/work/usage",
                            "message": {"role": "user", "content": f"prompt of {name}"}}) + "\n")
        for ts, mid, rid, model, usage in replies:
            f.write(json.dumps({"type": "assistant", "timestamp": ts, "requestId": rid, "cwd": "/work/usage",
                                "message": {"id": mid, "role": "assistant", "model": model, "usage": usage,
                                            "content": [{"type": "text", "text": "ok"}]}}) + "\n")


def usage(i=0, o=0, cw=0, cr=0, cw1h=0, searches=0):
    u = {"input_tokens": i, "output_tokens": o, "cache_creation_input_tokens": cw, "cache_read_input_tokens": cr,
         "cache_creation": {"ephemeral_5m_input_tokens": cw - cw1h, "ephemeral_1h_input_tokens": cw1h}}
    if searches:
        u["server_tool_use"] = {"web_search_requests": searches}
    return u


def codex_session(settings, sid, events):
    """token_count events: (timestamp, input incl. cached, cached, output) running totals."""
    path = settings.agent_dir("codex") / "sessions" / "2026" / "05" / "01" / f"rollout-2026-05-01T10-00-00-{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [{"timestamp": "2026-05-01T10:00:00Z", "type": "session_meta", "payload": {"id": sid, "cwd": "/work/cx"}},
             {"timestamp": "2026-05-01T10:00:00Z", "type": "turn_context", "payload": {"cwd": "/work/cx", "model": "gpt-5-codex"}}]
    for ts, inp, cached, out in events:
        lines.append({"timestamp": ts, "type": "event_msg", "payload": {"type": "token_count", "info": {
            "total_token_usage": {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out,
                                  "total_tokens": inp + out}}}})
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def load(settings):
    index = open_index(settings)
    backfill(settings, index.writer())
    return index


SONNET = "claude-sonnet-4-5-20250929"


def test_a_response_counts_once_at_its_largest(settings):
    # Streaming wrote the same response three times with placeholder output.
    claude_session(settings, "s1", [
        ("2026-05-01T10:00:01Z", "msg_1", "req_1", SONNET, usage(10, 1, 100, 1000)),
        ("2026-05-01T10:00:02Z", "msg_1", "req_1", SONNET, usage(10, 2, 100, 1000)),
        ("2026-05-01T10:00:03Z", "msg_1", "req_1", SONNET, usage(10, 250, 100, 1000)),
        ("2026-05-01T10:05:00Z", "msg_2", "req_2", SONNET, usage(5, 50, 0, 1100)),
    ])
    index = load(settings)
    with index.reader() as r:
        found = report(r, "day", tz="UTC")
    [day] = found["rows"]
    assert day["key"] == "2026-05-01"
    assert (day["input_tokens"], day["output_tokens"], day["cache_creation_tokens"], day["cache_read_tokens"]) == \
        (15, 300, 100, 2100)
    assert day["messages"] == 2 and day["sessions"] == 1
    index.close()


def test_costs_follow_the_price_table(settings):
    claude_session(settings, "s2", [
        ("2026-05-02T10:00:00Z", "m1", "r1", SONNET, usage(1000, 2000, 4000, 8000, cw1h=1000, searches=3)),
        # Past 200,000 input tokens: the whole request at the long-context rates.
        ("2026-05-02T11:00:00Z", "m2", "r2", SONNET, usage(150_000, 1000, 0, 100_000)),
        ("2026-05-02T12:00:00Z", "m3", "r3", "some-model-nobody-prices", usage(500, 500)),
    ])
    index = load(settings)
    with index.reader() as r:
        found = report(r, "model")
    by_model = {row["key"]: row for row in found["rows"]}
    sonnet = by_model[SONNET]
    # Sonnet 4.5 per million: input 3, output 15, cache write 3.75 (an hour: 6), read 0.30; past 200K: 6, 22.5, 0.60.
    short = (1000 * 3 + 2000 * 15 + 3000 * Decimal("3.75") + 1000 * 6 + 8000 * Decimal("0.3")) / 1_000_000 + 3 * Decimal("0.01")
    long = (150_000 * 6 + 1000 * Decimal("22.5") + 100_000 * Decimal("0.6")) / 1_000_000
    assert sonnet["cost_usd"] == pytest.approx(float(short + long), abs=1e-6)
    assert sonnet["cache_creation_1h_tokens"] == 1000 and sonnet["web_searches"] == 3
    unknown = by_model["some-model-nobody-prices"]
    assert unknown["cost_usd"] is None and unknown["price_unknown"] == ["some-model-nobody-prices"]
    assert unknown["input_tokens"] == 500  # its tokens still count
    assert found["totals"]["price_unknown"] == ["some-model-nobody-prices"]
    assert found["totals"]["cost_usd"] == pytest.approx(sonnet["cost_usd"])
    index.close()


def test_the_rates_match_the_published_prices():
    sonnet = rates(SONNET, "claude")
    assert sonnet.threshold == 200_000
    cost = sonnet.cost(TokenSums(input=1_000_000, output=1_000_000), long=False)
    assert cost == Decimal(18)
    assert rates("no-such-model", "claude") is None and rates(None, "claude") is None
    assert rates("gpt-5-codex", "codex").cost(TokenSums(input=1_000_000, cache_read=1_000_000), False) == Decimal("1.375")


def test_codex_running_totals_count_by_their_rises(settings):
    sid = "0199dddd-eeee-7fff-8000-111122223333"
    codex_session(settings, sid, [
        ("2026-05-01T10:01:00Z", 1000, 400, 100),
        ("2026-05-01T10:01:01Z", 1000, 400, 100),  # the same totals again: nothing more
        ("2026-05-02T09:00:00Z", 3000, 2000, 300),  # the next day: the rise only
    ])
    index = load(settings)
    with index.reader() as r:
        days = {row["key"]: row for row in report(r, "day", tz="UTC")["rows"]}
        model = report(r, "model")["rows"]
    assert (days["2026-05-01"]["input_tokens"], days["2026-05-01"]["cache_read_tokens"], days["2026-05-01"]["output_tokens"]) \
        == (600, 400, 100)
    assert (days["2026-05-02"]["input_tokens"], days["2026-05-02"]["cache_read_tokens"], days["2026-05-02"]["output_tokens"]) \
        == (400, 1600, 200)
    assert [m["key"] for m in model] == ["gpt-5-codex"] and model[0]["cost_usd"] > 0
    index.close()


def test_days_are_the_readers(settings):
    claude_session(settings, "late", [("2026-05-01T23:30:00Z", "m1", "r1", SONNET, usage(1, 1))])
    index = load(settings)
    with index.reader() as r:
        assert [row["key"] for row in report(r, "day", tz="UTC")["rows"]] == ["2026-05-01"]
        assert [row["key"] for row in report(r, "day", tz="Europe/Berlin")["rows"]] == ["2026-05-02"]
        assert [row["key"] for row in report(r, "day", tz="America/Los_Angeles")["rows"]] == ["2026-05-01"]
        assert [row["key"] for row in report(r, "week", tz="UTC")["rows"]] == ["2026-04-27"]  # its Monday
        assert [row["key"] for row in report(r, "month", tz="UTC")["rows"]] == ["2026-05"]
        assert report(r, "day", since="2026-05-02T00:00:00", tz="UTC")["rows"] == []
    index.close()


def test_cli_and_api(settings):
    claude_session(settings, "s3", [("2026-05-03T10:00:00Z", "m1", "r1", SONNET, usage(1000, 1000))])
    load(settings).close()
    result = CliRunner().invoke(zerg, ["stats", "--by", "model", "--tz", "UTC"])
    assert result.exit_code == 0, result.output
    assert SONNET in result.stdout and "$0.02" in result.stdout and result.stdout.splitlines()[-1].startswith("total")
    as_json = json.loads(CliRunner().invoke(zerg, ["stats", "--json", "--by", "session"]).stdout)
    assert as_json["rows"][0]["title"] == "prompt of s3" and as_json["prices"]["source"] == "genai-prices"
    bad = CliRunner().invoke(zerg, ["stats", "--tz", "Mars/Olympus"])
    assert bad.exit_code == 1 and "unknown time zone" in bad.output
    app = create_app(settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        body = client.get("/api/stats", params={"by": "day", "tz": "UTC"}).json()
        assert body["rows"][0]["key"] == "2026-05-03" and body["totals"]["cost_usd"] == pytest.approx(0.018)
        assert "by_model" in client.get("/api/stats").json()  # without by: the index's totals, as before
        assert client.get("/api/stats", params={"by": "year"}).status_code == 422
        assert client.get("/api/stats", params={"by": "day", "tz": "Mars/Olympus"}).status_code == 400
        assert client.get("/api/stats", params={"by": "day", "since": "yesterday-ish"}).status_code == 400


def test_where_ccusage_counts_differently(settings):
    """The two differences bench/check_ccusage.py finds on the real corpus,
    each a rule of ours (README, Usage and cost)."""
    # Lines without a requestId (a proxy wrote them) that repeat one response:
    # ccusage's daily report counts each line; the response counts once here.
    claude_session(settings, "proxy", [
        ("2026-04-12T14:06:41.155Z", "gen-1", "", "glm-4.7", usage(25430, 59)),
        ("2026-04-12T14:06:41.159Z", "gen-1", "", "glm-4.7", usage(25430, 59)),
        ("2026-04-12T14:06:41.160Z", "gen-1", "", "glm-4.7", usage(25430, 59)),
    ])
    # Timestamps with microseconds: ccusage drops these lines; they count here.
    claude_session(settings, "micro", [("2025-07-03T15:50:07.875917Z", "m1", "r1", SONNET, usage(8, 309, 557, 17190))])
    index = load(settings)
    with index.reader() as r:
        days = {row["key"]: row for row in report(r, "day", tz="UTC")["rows"]}
    assert (days["2026-04-12"]["input_tokens"], days["2026-04-12"]["messages"]) == (25430, 1)
    assert days["2025-07-03"]["output_tokens"] == 309
    index.close()


def test_a_resumed_session_does_not_count_the_history_it_copies(settings):
    first = ("2026-05-04T10:00:00Z", "msg_a", "req_a", SONNET, usage(100, 200))
    claude_session(settings, "before", [first])
    # `claude --resume` starts a file that repeats the earlier messages, ids and all.
    claude_session(settings, "after", [first, ("2026-05-05T10:00:00Z", "msg_b", "req_b", SONNET, usage(7, 9))])
    index = load(settings)
    with index.reader() as r:
        by_session = {row["key"]: row["output_tokens"] for row in report(r, "session")["rows"]}
        days = {row["key"]: row["output_tokens"] for row in report(r, "day", tz="UTC")["rows"]}
    # The copy has the original's time: one of the two keeps it (the smaller session id), never both.
    assert sum(by_session.values()) == 209 and by_session["after"] == 209 and by_session.get("before", 0) == 0
    assert days == {"2026-05-04": 200, "2026-05-05": 9}
    index.close()
    # Indexed in the other order (a reindex walks files in any order), the same file keeps it.
    from zergd.archivist.rebuild import rebuild

    rebuild(settings)
    index = open_index(settings)
    with index.reader() as r:
        assert {row["key"]: row["output_tokens"] for row in report(r, "session")["rows"]} == {"after": 209}
    index.close()


def test_rates_are_kept_between_runs(tmp_path, monkeypatch):
    import zergd.prices as prices

    monkeypatch.setattr(prices, "_CACHE", {})
    prices.rates.cache_clear()
    path = tmp_path / "prices.json"
    prices.use_cache(path)
    sonnet = prices.rates(SONNET, "claude")
    stored = json.loads(path.read_text())
    assert stored["version"] == prices.table_version() and f"claude\x00{SONNET}" in stored["rates"]
    # A later run reads them from the file, without the price table.
    monkeypatch.setattr(prices, "_CACHE", {})
    prices.rates.cache_clear()
    monkeypatch.setattr(prices, "_lookup", lambda *a: pytest.fail("looked up again"))
    prices.use_cache(path)
    assert prices.rates(SONNET, "claude") == sonnet
    # A file from another genai-prices release is ignored.
    path.write_text(json.dumps({"version": "0.0.1", "rates": {f"claude\x00{SONNET}": None}}))
    monkeypatch.setattr(prices, "_CACHE", {})
    prices.rates.cache_clear()
    monkeypatch.setattr(prices, "_lookup", lambda *a: sonnet)
    prices.use_cache(path)
    assert prices.rates(SONNET, "claude") == sonnet
    monkeypatch.setattr(prices, "_CACHE_PATH", None)
    prices.rates.cache_clear()


def test_five_hour_windows(settings):
    claude_session(settings, "blocks", [
        ("2026-05-06T10:20:00Z", "b1", "r1", SONNET, usage(10, 10)),
        ("2026-05-06T14:59:00Z", "b2", "r2", SONNET, usage(20, 20)),  # still the window opened at 10:00
        ("2026-05-06T15:30:00Z", "b3", "r3", SONNET, usage(30, 30)),  # past 15:00: a new one, from 15:00
    ])
    index = load(settings)
    with index.reader() as r:
        import datetime as dt

        from zergd.usage import blocks, zone

        found = blocks(r, since=None, until=None, provider="claude", project=None, session=None, zone_info=zone("UTC"),
                       now=dt.datetime(2026, 5, 6, 16, 0, tzinfo=dt.timezone.utc))
        via_report = report(r, "block", tz="UTC")
    assert [(b["start"], b["end"], b["total_tokens"], b["active"]) for b in found["rows"]] == [
        ("2026-05-06T15:00:00+00:00", "2026-05-06T20:00:00+00:00", 60, True),
        ("2026-05-06T10:00:00+00:00", "2026-05-06T15:00:00+00:00", 60, False)]
    assert found["rows"][1]["messages"] == 2 and found["rows"][0]["cost_usd"] > 0
    assert [b["start"] for b in via_report["rows"]] == [b["start"] for b in found["rows"]]
    index.close()
    result = CliRunner().invoke(zerg, ["stats", "--by", "block", "--tz", "UTC"])
    assert result.exit_code == 0 and result.stdout.startswith("2026-05-06 15:00")


def compact_lines(settings, name, lines, project="C--Users-eda-kargo"):
    """Lines as Claude Code writes them: compact JSON, one per line."""
    folder = settings.agent_dir("claude") / "projects" / project
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.jsonl", "a", encoding="utf-8") as f:
        f.write("".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n" for x in lines))


def reply(ts, model, u, *, mid=None, rid=None, uuid=None, text="ok"):
    line = {"type": "assistant", "timestamp": ts, "cwd": "C:\\Users\\eda\\kargo",
            "message": {"role": "assistant", "model": model, "usage": u, "content": [{"type": "text", "text": text}]}}
    if mid is not None:
        line["message"]["id"] = mid
    if rid is not None:
        line["requestId"] = rid
    if uuid is not None:
        line["uuid"] = uuid
    return line


def day_totals(settings):
    index = load(settings)
    with index.reader() as r:
        rows = report(r, "day", tz="UTC")["rows"]
    index.close()
    return {row["key"]: (row["input_tokens"], row["output_tokens"], row["cache_creation_tokens"],
                         row["cache_read_tokens"], row["messages"]) for row in rows}


def test_a_response_with_no_message_id_counts_once(settings):
    """Some proxies write no message.id: the response is keyed by its
    requestId (one response over several lines), else by its line's uuid."""
    u = usage(300, 40)
    compact_lines(settings, "noid", [
        reply("2026-03-02T09:00:01.000Z", "glm-4.6", u, rid="req_p1", uuid="l1"),
        reply("2026-03-02T09:00:01.200Z", "glm-4.6", u, rid="req_p1", uuid="l2"),  # the same response, 2nd block
        reply("2026-03-02T09:01:00.000Z", "glm-4.6", usage(500, 60), uuid="l3"),  # neither id: its uuid
    ])
    assert day_totals(settings)["2026-03-02"] == (800, 100, 0, 0, 2)


def test_two_responses_a_proxy_gave_one_id_are_two(settings):
    """A proxy issuing second-resolution ids gave two different calls one
    id (and no requestId): different model or input, so not one response."""
    compact_lines(settings, "collide", [
        reply("2025-10-30T08:49:41.100Z", "claude-sonnet-4-5", usage(1200, 80, 0, 9000), mid="msg_20251030084941"),
        reply("2025-10-30T08:49:41.700Z", "claude-haiku-4-5", usage(90, 12), mid="msg_20251030084941"),
        reply("2025-10-30T08:49:41.900Z", "claude-sonnet-4-5", usage(1350, 20, 0, 9000), mid="msg_20251030084941"),
    ])
    assert day_totals(settings)["2025-10-30"] == (1200 + 90 + 1350, 80 + 12 + 20, 0, 18000, 3)


def test_a_copied_response_counts_once_at_its_largest_in_any_order(settings):
    """A response in two files (a resume, a /btw aside replaying its parent)
    counts once, with the largest value of each field, whichever copy is the
    earliest: here the earliest copy was written while it streamed."""
    partial = reply("2026-02-10T12:00:00.000Z", SONNET, usage(40, 1, 2000, 30000), mid="msg_s", rid="req_s")
    whole = reply("2026-02-10T12:00:00.000Z", SONNET, usage(40, 850, 2000, 30000), mid="msg_s", rid="req_s")
    compact_lines(settings, "a-first", [partial])
    compact_lines(settings, "b-resumed", [whole, reply("2026-02-10T12:30:00.000Z", SONNET, usage(5, 5), mid="msg_t",
                                                       rid="req_t")])
    assert day_totals(settings)["2026-02-10"] == (45, 855, 2000, 30000, 2)


def test_cache_writes_come_from_their_parts_when_the_line_has_them(settings):
    """cache_creation's 5-minute and 1-hour parts win over
    cache_creation_input_tokens when both are written and disagree."""
    u = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 999,
         "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 200}}
    plain = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 700}
    compact_lines(settings, "cache", [reply("2026-01-05T10:00:00.000Z", SONNET, u, mid="m1", rid="r1"),
                                      reply("2026-01-06T10:00:00.000Z", SONNET, plain, mid="m2", rid="r2")])
    days = day_totals(settings)
    assert days["2026-01-05"][2] == 500 and days["2026-01-06"][2] == 700
    index = load(settings)
    with index.reader() as r:
        hour = {row["key"]: row["cache_creation_1h_tokens"] for row in report(r, "day", tz="UTC")["rows"]}
    index.close()
    assert hour == {"2026-01-05": 200, "2026-01-06": 0}  # the hour-long part, priced apart


def test_one_project_is_one_row_whatever_its_spellings(settings):
    """Windows drive letters in either case, a trailing separator, and a
    session whose lines name no cwd (only its folder's lossy name, -root)."""
    def session(folder, name, cwd, ts):
        line = reply(ts, SONNET, usage(100, 10), mid=f"m-{name}", rid=f"r-{name}")
        line.pop("cwd")
        if cwd:
            line["cwd"] = cwd
        compact_lines(settings, name, [line], project=folder)

    session("c--code-kargo", "a", "c:\\code\\kargo", "2026-03-01T10:00:00Z")
    session("C--code-kargo", "b", "C:\\code\\kargo\\", "2026-03-02T10:00:00Z")
    session("-root", "c", None, "2026-03-03T10:00:00Z")  # its lines name no cwd
    session("-root", "d", "/root/", "2026-03-04T10:00:00Z")
    index = load(settings)
    with index.reader() as r:
        projects = {row["key"]: row["messages"] for row in report(r, "project")["rows"]}
        listed = {p["project"]: p["sessions"] for p in r.projects()}
    index.close()
    assert projects == {"C:\\code\\kargo": 2, "/root": 2}
    assert listed == {"C:\\code\\kargo": 2, "/root": 2}
    result = CliRunner().invoke(zerg, ["stats", "--by", "project", "--json"])
    assert sorted(row["key"] for row in json.loads(result.output)["rows"]) == ["/root", "C:\\code\\kargo"]


def test_the_text_report_says_nothing_twice(settings):
    """No all-zero day rows, "1 call" not "1 calls", the unpriced models named once."""
    compact_lines(settings, "small", [
        reply("2026-03-10T10:00:00Z", "<synthetic>", usage(0, 0), mid="syn", rid="rs"),
        reply("2026-03-11T10:00:00Z", SONNET, usage(100, 10), mid="m1", rid="r1"),
        reply("2026-03-11T11:00:00Z", "mystery-model-9", usage(50, 5), mid="m2", rid="r2"),
        reply("2026-03-12T11:00:00Z", SONNET, usage(70, 7), mid="m3", rid="r3"),
    ])
    load(settings).close()
    days = CliRunner().invoke(zerg, ["stats", "--by", "day", "--tz", "UTC"])
    assert "2026-03-10" not in days.output and "2026-03-11" in days.output
    assert days.output.count("mystery-model-9") == 1  # in the one line that names what has no price
    blocks = CliRunner().invoke(zerg, ["stats", "--by", "block", "--since", "2026-03-11", "--until", "2026-03-12"])
    assert "2 calls" in blocks.output and "  1 call  " in blocks.output


def test_cost_per_project_group(settings, monkeypatch, tmp_path):
    """config.toml's [projects.groups]: a path prefix (~ is this machine's
    home) or a glob names a group; zerg stats --by group and each project
    row's group; a project no group holds is in none."""
    home = tmp_path / "home-of-ada"
    monkeypatch.setenv("HOME", str(home))
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "config.toml").write_text(
        '[projects.groups]\n"~/code/acme" = "work"\n"C:\\\\work\\\\*" = "work"\n"/srv/oss-*" = "oss"\n', "utf-8")

    def session(name, cwd, out):
        compact_lines(settings, name, [reply("2026-04-01T10:00:00Z", SONNET, usage(100, out), mid=f"m-{name}",
                                             rid=f"r-{name}") | {"cwd": cwd}], project=name)

    session("a", f"{home}/code/acme/api", 10)
    session("b", "c:\\work\\shop", 20)
    session("c", "/srv/oss-tiles", 30)
    session("d", f"{home}/code/acmez", 40)  # a sibling folder whose name starts the same: no group
    load(settings).close()
    out = CliRunner().invoke(zerg, ["stats", "--by", "group", "--json"])
    groups = {row["key"]: row["output_tokens"] for row in json.loads(out.output)["rows"]}
    assert groups == {"work": 30, "oss": 30, None: 40}
    projects = json.loads(CliRunner().invoke(zerg, ["stats", "--by", "project", "--json"]).output)["rows"]
    assert {r["key"]: r["group"] for r in projects} == {f"{home}/code/acme/api": "work", "C:\\work\\shop": "work",
                                                         "/srv/oss-tiles": "oss", f"{home}/code/acmez": None}
    (settings.home / "config.toml").write_text('[projects.groups]\n"~/x" = 3\n', "utf-8")
    bad = CliRunner().invoke(zerg, ["stats", "--by", "group"])
    assert bad.exit_code != 0 and "[projects.groups]" in bad.output


def test_an_independent_count_of_the_raw_files_agrees_and_names_every_rule(settings, backend):
    """bench/check_ccusage.py counts the raw files itself, by ccusage's rules
    and by zergd's, and names the rules behind each day that differs: here
    on fixtures with every rule, zergd's report equals its count to the token."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("check_ccusage", Path(__file__).parents[1] / "bench" / "check_ccusage.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    parts = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 999,
             "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 200}}
    compact_lines(settings, "rules-a", [
        reply("2026-05-01T10:00:00.123456Z", SONNET, usage(8, 300, 500, 1000), mid="micro", rid="rm"),
        reply("2026-05-02T10:00:00.100Z", "glm-4.6", usage(300, 40), mid="gen-1", uuid="g1"),
        reply("2026-05-02T10:00:00.200Z", "glm-4.6", usage(300, 40), mid="gen-1", uuid="g2"),
        reply("2026-05-03T10:00:00.000Z", "glm-4.6", usage(500, 60), rid="req_only", uuid="n1"),
        reply("2026-05-03T10:00:00.300Z", "glm-4.6", usage(500, 60), rid="req_only", uuid="n2"),
        reply("2026-05-04T08:49:41.100Z", SONNET, usage(1200, 80), mid="msg_20260504084941", rid="same"),
        reply("2026-05-04T08:49:41.700Z", "claude-haiku-4-5", usage(90, 12), mid="msg_20260504084941", rid="same"),
        reply("2026-05-05T10:00:00.000Z", SONNET, parts, mid="cache", rid="rc"),
        reply("2026-05-07T10:00:00.000Z", SONNET, usage(40, 1, 0, 300), mid="copy", rid="rcp"),
    ])
    compact_lines(settings, "rules-b", [  # a copy, with its day earlier and its values larger
        reply("2026-05-06T10:00:00.000Z", SONNET, usage(40, 900, 0, 300), mid="copy", rid="rcp"),
    ])
    index = load(settings)
    with index.reader() as r:
        ours = {row["key"]: [row[k] for k in check.KEYS] for row in report(r, "day", tz="UTC")["rows"]}
    index.close()
    theirs, counted, fired = check.independent_counts(settings.agent_dir("claude") / "projects")
    assert ours == {day: v for day, v in counted.items() if any(v)}
    assert {day: sorted(rules) for day, rules in fired.items()} == {
        "2026-05-01": ["microsecond-timestamps"], "2026-05-02": ["repeated-lines-without-request-id"],
        "2026-05-03": ["no-message-id"], "2026-05-04": ["two-responses-one-id"], "2026-05-05": ["cache-write-parts"],
        "2026-05-06": ["copy-day"], "2026-05-07": ["copy-day"]}
    assert theirs["2026-05-02"][0] == 600 and ours["2026-05-02"][0] == 300  # two lines; one response
