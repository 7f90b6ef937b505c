"""An edit shows the lines that changed, with the changed words marked, the
unchanged ones around them folded to a count, and Claude Code's `cat -n`
snippet of the edited file one click away (tests in Chromium)."""

import json

from test_browser import browser, page, serving  # noqa: F401 (fixtures)

SID = "d1ff0000-1111-4222-8333-444455556666"
BEFORE = "\n".join([f"    kalem_{i} = hesapla({i})" for i in range(1, 9)] + [
    "    toplam = kdv_ekle(ara_toplam, oran=0.18)",
    "    indirim = 0",
    "    if musteri.sadik:",
    "        indirim = toplam * 0.05",
] + [f"    kayit_{i} = sakla({i})" for i in range(1, 9)])
AFTER = BEFORE.replace("oran=0.18", "oran=0.20").replace("indirim = 0\n", "indirim = Decimal(0)\n") \
    .replace("musteri.sadik", "musteri.sadik_mi").replace("toplam * 0.05", "toplam * Decimal('0.05')")
SNIPPET = "".join(f"{n:>6}→line {n}\n" for n in range(40, 63))


def write(settings):
    base = {"sessionId": SID, "cwd": "/home/deniz/fatura", "version": "2.1.140"}
    rows = [
        {**base, "type": "user", "uuid": "u1", "timestamp": "2026-06-01T10:00:00Z",
         "message": {"role": "user", "content": "KDV oranını güncelle"}},
        {**base, "type": "assistant", "uuid": "a1", "timestamp": "2026-06-01T10:00:05Z", "requestId": "r1",
         "message": {"id": "m1", "role": "assistant", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 3},
                     "content": [{"type": "tool_use", "id": "toolu_edit", "name": "Edit",
                                  "input": {"file_path": "/home/deniz/fatura/hesap.py", "old_string": BEFORE,
                                            "new_string": AFTER}}]}},
        {**base, "type": "user", "uuid": "u2", "timestamp": "2026-06-01T10:00:06Z",
         "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_edit", "content":
                     "The file /home/deniz/fatura/hesap.py has been updated. Here's the result of running `cat -n`"
                     " on a snippet of the edited file:\n" + SNIPPET}]}},
        {**base, "type": "assistant", "uuid": "a2", "timestamp": "2026-06-01T10:00:08Z", "requestId": "r2",
         "message": {"id": "m2", "role": "assistant", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 3},
                     "content": [{"type": "tool_use", "id": "toolu_read", "name": "Read",
                                  "input": {"file_path": "/home/deniz/fatura/web/sepet.js"}}]}},
        {**base, "type": "user", "uuid": "u3", "timestamp": "2026-06-01T10:00:09Z",
         "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_read", "content":
                     "     1→// sepet toplamı\n     2→export function toplam(satirlar) {\n"
                     "     3→  return satirlar.reduce((a, s) => a + s.tutar, 0);\n     4→}\n"}]}},
    ]
    path = settings.agent_dir("claude") / "projects" / "-home-deniz-fatura" / f"{SID}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def test_an_edit_shows_what_changed(settings, monkeypatch, page):  # noqa: F811
    from playwright.sync_api import expect

    write(settings)
    with serving(settings, monkeypatch) as url:
        page.goto(f"{url}/s/{SID}")
        edit = page.locator('[data-tool-use-id="toolu_edit"]')
        expect(edit.locator("pre.diff .dl.del")).to_have_count(4)
        expect(edit.locator("pre.diff .dl.add")).to_have_count(4)
        marks = edit.locator("pre.diff .dl.add mark.w").all_inner_texts()
        assert marks[0] == "20" and "Decimal(" in marks and "sadik_mi" in marks  # 0.18 -> 0.20: the digits that changed
        assert "kdv_ekle" not in "".join(marks)  # unchanged words are not marked
        # Six unchanged lines before the change and eight after: two of each shown, the rest counted.
        expect(edit.locator("pre.diff .dl.skip")).to_have_text(["… 6 unchanged lines", "… 6 unchanged lines"])
        # The snippet of the file after the edit: folded, with its size, no line numbers.
        result = edit.locator(".tool-result")
        expect(result).to_contain_text("has been updated")
        fold = result.locator("details summary")
        expect(fold).to_have_text("23 lines")
        expect(result.locator("pre.code")).to_have_count(0)
        fold.click()
        expect(result.locator("pre.code")).to_contain_text("line 62")
        expect(result.locator("pre.code")).not_to_contain_text("→")
        # A .js file read is coloured as JavaScript.
        read = page.locator('[data-tool-use-id="toolu_read"] .tool-result')
        expect(read.locator(".tok-keyword", has_text="function")).to_have_count(1)
        expect(read.locator(".tok-comment")).to_have_text("// sepet toplamı")
        assert page.errors == []
