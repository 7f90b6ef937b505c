"""The Usage page as a first-time user meets it: an archive whose last
activity is two months old opens on the 30 days that had usage (and says
so), every model has its own colour in the chart and its legend, and a
"(no model)" row that used nothing is not shown."""

import datetime as dt
import json

from test_browser import browser, start_daemon  # noqa: F401 (fixtures)
from test_daemon import zergd

MODELS = ["claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001",
          "claude-opus-4-1-20250805", "claude-sonnet-4-20250514", "claude-3-7-sonnet-20250219",
          "claude-3-5-haiku-20241022", "glm-4.6", "kimi-k2"]


def write_archive(settings):
    """Nine models' responses over a week that ended 60 days ago, and a
    synthetic reply with no model and no tokens."""
    end = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=60)
    folder = settings.agent_dir("claude") / "projects" / "-home-ines-atlas"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [{"type": "user", "uuid": "u0", "timestamp": (end - dt.timedelta(days=7)).isoformat().replace("+00:00", "Z"),
              "cwd": "/home/ines/atlas", "message": {"role": "user", "content": "build the tile server"}}]
    for i, model in enumerate(MODELS):
        ts = (end - dt.timedelta(days=i % 7, hours=i)).isoformat().replace("+00:00", "Z")
        lines.append({"type": "assistant", "uuid": f"a{i}", "timestamp": ts, "requestId": f"req_{i}",
                      "cwd": "/home/ines/atlas",
                      "message": {"id": f"msg_{i}", "role": "assistant", "model": model,
                                  "usage": {"input_tokens": 1000 * (i + 1), "output_tokens": 300 * (9 - i)},
                                  "content": [{"type": "text", "text": "ok"}]}})
    lines.append({"type": "assistant", "uuid": "syn", "timestamp": end.isoformat().replace("+00:00", "Z"),
                  "requestId": "req_syn", "message": {"id": "msg_syn", "role": "assistant", "model": "<synthetic>",
                                                      "usage": {"input_tokens": 0, "output_tokens": 0},
                                                      "content": [{"type": "text", "text": "No response requested."}]}})
    (folder / "5e5e5e5e-0000-4000-8000-000000000001.jsonl").write_text(
        "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines), "utf-8")
    return end.date().isoformat()


def test_the_usage_page_opens_on_the_days_that_had_usage(settings, monkeypatch, browser):  # noqa: F811
    from playwright.sync_api import expect

    last = write_archive(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "config.toml").write_text('[projects.groups]\n"/home/ines" = "maps"\n', "utf-8")
    url = start_daemon(settings, monkeypatch)
    try:
        for scheme in ("light", "dark"):
            context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
            page = context.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/usage")
            expect(page.locator(".period-note")).to_have_text(
                f"Nothing in the last 30 days: showing the 30 days up to {last}, the last day with usage.")
            cost = page.locator(".figure", has_text="estimated cost")
            expect(cost).to_contain_text("$")
            expect(cost).not_to_contain_text("unknown")
            expect(page.locator("svg.usage-chart rect.series").first).to_be_attached()
            # By cost: the seven priced models (glm and kimi have no price), each its own colour.
            legend = page.locator("ul.legend li")
            expect(legend).to_have_count(7)
            swatches = "els => els.map(e => getComputedStyle(e).backgroundColor)"
            assert len(set(page.eval_on_selector_all("ul.legend .swatch", swatches))) == 7
            # By tokens: seven models by name, each its own colour, the other two together in grey.
            page.select_option("select[name=measure]", "tokens")
            expect(legend).to_have_count(8)
            expect(legend.last).to_have_text("2 other models")
            colours = page.eval_on_selector_all("ul.legend .swatch", swatches)
            assert len(set(colours)) == 8, colours
            # A bar is coloured like its model's swatch.
            bar = page.locator(f'svg.usage-chart rect.series[data-model="{MODELS[-1]}"]').first
            swatch = page.locator(f'ul.legend li[data-model="{MODELS[-1]}"] .swatch')
            assert bar.evaluate("e => getComputedStyle(e).fill") == swatch.evaluate("e => getComputedStyle(e).backgroundColor")
            expect(page.locator(".usage-table", has_text="By model")).not_to_contain_text("(no model)")
            by_project = page.locator(".usage-table", has_text="By project")
            expect(by_project.locator("th").nth(1)).to_have_text("group")
            expect(by_project.locator("td.group").first).to_have_text("maps")
            assert errors == []
            context.close()
    finally:
        zergd("stop")
