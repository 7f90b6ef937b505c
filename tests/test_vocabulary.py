"""One vocabulary for every reader of a transcript: the parser, the
Markdown/HTML export and the Timeline (render.js) know the same words."""

import json
import re
from pathlib import Path

from zergd.document import turns
from zergd.index.parse import parse_line
from zergd.transcript.vocabulary import CODEX_CONTEXT, is_codex_context

RENDER_JS = Path(__file__).resolve().parent.parent / "zergd" / "webui" / "render.js"


def test_render_js_knows_the_same_codex_context():
    found = re.search(r"const CODEX_CONTEXT = (\[[^\]]*\]);", RENDER_JS.read_text("utf-8"))
    assert found, "render.js has no CODEX_CONTEXT list"
    assert tuple(json.loads(found.group(1))) == CODEX_CONTEXT


def test_the_parser_and_the_export_agree_on_injected_context():
    for prefix in CODEX_CONTEXT:
        text = f"{prefix}\nsandbox: workspace-write"
        assert is_codex_context("  " + text)
        bare = json.dumps({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
        assert parse_line(bare.encode(), 0, 1).prompt is None, prefix  # never a session's title
        line = json.dumps({"timestamp": "2026-05-02T10:00:00Z", "type": "response_item", "payload": {
            "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
        assert turns([line.encode()]) == [], prefix  # left out of the document as bookkeeping
    assert not is_codex_context("Please read AGENTS.md instructions first")
