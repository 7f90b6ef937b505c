"""One vocabulary for every reader of a transcript: the parser, the
Markdown/HTML export and the Timeline know the same words, because the page
is given them (zergd.transcript.page_facts) instead of keeping a copy."""

import json
import re
from pathlib import Path

from zergd.api.pages import Assets, webui_dir
from zergd.document import turns
from zergd.index.parse import parse_line
from zergd.transcript import PROVIDERS, page_facts
from zergd.transcript.vocabulary import CLAUDE_NOT_TYPED, CODEX_CONTEXT, is_codex_context

WEBUI = Path(__file__).resolve().parent.parent / "zergd" / "webui"


def test_the_page_is_given_every_agent_and_the_vocabulary():
    html = Assets(webui_dir()).index_html
    found = re.search(r'<script type="application/json" id="zerg-agents">(.*?)</script>', html, re.S)
    assert found, "index.html does not carry the agents' facts"
    assert "<" not in found.group(1)  # inert: nothing in it can close the script element
    facts = json.loads(found.group(1))
    assert facts == json.loads(json.dumps(page_facts()))
    assert tuple(facts["vocabulary"]["codex_context"]) == CODEX_CONTEXT
    assert tuple(facts["vocabulary"]["claude_not_typed"]) == CLAUDE_NOT_TYPED
    assert set(facts["agents"]) == set(PROVIDERS)
    assert facts["agents"]["claude"]["resume"].replace("{id}", "abc") == PROVIDERS["claude"].resume_command("abc")


def test_no_script_keeps_its_own_copy_of_the_words():
    for path in WEBUI.rglob("*.js"):
        text = path.read_text("utf-8")
        for word in CODEX_CONTEXT + ("<local-command-", "<user-memory-input>", "custom_tool_call_output"):
            assert word not in text, f"{path.name} spells {word!r}; use agents.js's VOCABULARY"
        assert not re.search(r"claude --resume|codex resume", text), f"{path.name} spells a resume command"


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


def test_only_the_registry_names_the_agents():
    """Adding an agent is its module and a registry line: nothing else in
    the code spells an agent's name (the one exception is doctor's check of
    Claude Code's own cleanupPeriodDays setting)."""
    import ast

    package = WEBUI.parent
    found = []
    for path in package.rglob("*.py"):
        if "transcript" in path.relative_to(package).parts or path.name == "doctor.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and node.value in PROVIDERS:
                found.append(f"{path.relative_to(package)}:{node.lineno}")
    for path in WEBUI.rglob("*.js"):
        if path.parent.name == "agents":
            continue
        found += [f"{path.name}: {m.group()}" for m in re.finditer(r"""["'](?:%s)["']""" % "|".join(PROVIDERS),
                                                                   path.read_text("utf-8"))]
    assert found == []
