"""A session as a document (zerg export --format md|html, the API's
?format=), and where a conversation forks (/api/sessions/{id}/branches)."""

import json
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from conftest import CORPUS, corpus_params  # noqa: F401
from fastapi.testclient import TestClient
from test_sample import CODEX, MAIN, TOOLS

from zergd.api.app import create_app
from zergd.cli import zerg
from zergd.document import html_document, markdown, turns
from zergd.index.branches import Node, forks


@pytest.fixture
def loaded(sample, index):
    index.backfill()
    return index


@pytest.fixture
def client(loaded):
    app = create_app(loaded.settings, None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        yield c


def test_markdown_export_reads_as_a_conversation(loaded):
    result = CliRunner().invoke(zerg, ["export", MAIN, "--format", "md"])
    assert result.exit_code == 0, result.output
    md = result.stdout
    assert md.startswith("# Login form validation\n")
    assert "- **Project:** /home/dev/webapp" in md and "- **Branch:** feature/login" in md
    assert "\n## User · 2026-05-01T09:00:00.000Z\n\nAdd validation to the login form" in md
    # The tool call and its result together, the result fenced.
    call = md.index("**Bash: Run the login tests**")
    assert md.index("npm test -- login", call) < md.index("expected pelican error", call) < md.index("**Task: Find validation helpers**")
    assert "```diff\n@@ -1 +1 @@\n-if (!email) return\n+if (!isEmail(email)) return setError('pelican')\n```" in md
    assert "<summary>Error (1 line)</summary>" in md
    assert "- [~] Write walrus test\n- [ ] Run suite" in md
    assert "*Conversation compacted*" in md
    assert "![image](data:image/png;base64," in md
    # Bookkeeping is left out; the JSONL export keeps it.
    assert "queue-operation" not in md and "enqueue" not in md


def test_fences_outlast_backticks_in_the_content():
    lines = [json.dumps({"type": "assistant", "message": {"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "Write", "input": {"file_path": "a.md", "content": "````\ninner\n````"}}]}}).encode()]
    md = "".join(markdown({"id": "x", "provider": "claude"}, lines))
    assert "`````\n````\ninner\n````\n`````" in md


def test_html_export_is_self_contained_and_inert(client):
    resp = client.get(f"/api/sessions/{MAIN}/export", params={"format": "html"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert resp.headers["content-disposition"] == f'attachment; filename="{MAIN}.html"'
    page = resp.text
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    tags = Tags()
    tags.feed(page)
    assert not tags.found & {"script", "iframe", "link", "object", "embed"}
    assert tags.srcs and all(src.startswith("data:image/png;base64,") for src in tags.srcs)  # nothing fetched
    assert "expected pelican error" in page and '<span class="del">-if (!email) return</span>' in page


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found, self.srcs = set(), []

    def handle_starttag(self, tag, attrs):
        self.found.add(tag)
        self.srcs += [v for k, v in attrs if k == "src"]


def test_codex_markdown(client):
    md = client.get(f"/api/sessions/{CODEX}/export", params={"format": "md"}).text
    assert "## User" in md and "Why does the quokka endpoint return 500?" in md
    assert "rg quokka src" in md and "src/routes.py:12: def quokka():" in md  # the output unwrapped from its JSON
    assert "<environment_context>" not in md and "permissions instructions" not in md
    assert "Checking the handler for the quokka route" in md


def test_export_format_errors_are_4xx(client):
    assert client.get(f"/api/sessions/{MAIN}/export", params={"format": "pdf"}).status_code == 422
    assert client.get("/api/sessions/nope/export", params={"format": "md"}).status_code == 404
    result = CliRunner().invoke(zerg, ["export", MAIN, "--format", "pdf"])
    assert result.exit_code == 2 and "pdf" in result.output


@pytest.mark.parametrize("path", corpus_params(), ids=lambda p: p.name[:30] if p else "no-corpus")
def test_every_corpus_file_renders(path):
    """Every real transcript becomes a document without an error."""
    session = {"id": path.stem, "provider": "claude"}
    with open(path, "rb") as f:
        md = "".join(markdown(session, f))
    with open(path, "rb") as f:
        page = "".join(html_document(session, f))
    assert md.startswith("# ") and page.rstrip().endswith("</html>")


def test_tool_results_find_their_calls_across_parallel_calls():
    """Parallel calls: two calls, then two results, each under its own call."""
    rows = [
        {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {"command": "one"}}]}},
        {"type": "assistant", "message": {"role": "assistant", "content": [{"type": "tool_use", "id": "b", "name": "Bash", "input": {"command": "two"}}]}},
        {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b", "content": "out two"}]}},
        {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "out one", "is_error": True}]}},
    ]
    [turn] = turns(json.dumps(r).encode() for r in rows)
    assert [(p.tool.input["command"], p.tool.result, p.tool.error) for p in turn.parts] == [
        ("one", "out one", True), ("two", "out two", False)]


# --- branches ------------------------------------------------------------------


def node(offset, uuid, parent, typ="user"):
    return Node(offset, uuid, parent, typ, None)


def test_a_rewind_is_a_fork_and_the_newest_branch_is_latest(client):
    found = client.get(f"/api/sessions/{TOOLS}/branches").json()["forks"]
    [fork] = found
    older, newer = fork["branches"]
    assert (older["preview"], newer["preview"]) == ("Now rename it to serval", "Actually rename it to jaguarundi")
    assert newer["latest"] and "latest" not in older
    assert (older["lines"], newer["lines"]) == (2, 6)
    assert fork["at"] < older["start"] < newer["start"]
    assert client.get(f"/api/sessions/{MAIN}/branches").json() == {"forks": []}
    assert client.get("/api/sessions/nope/branches").status_code == 404


def test_parallel_tool_results_and_bash_input_are_not_forks():
    lines = {
        0: {"type": "user", "message": {"role": "user", "content": "go"}},
        1: {"type": "assistant", "message": {"id": "m1", "role": "assistant", "content": [{"type": "tool_use"}]}},
        2: {"type": "assistant", "message": {"id": "m1", "role": "assistant", "content": [{"type": "tool_use"}]}},
        3: {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result"}]}},
        4: {"type": "user", "message": {"role": "user", "content": "<bash-input>ls</bash-input>"}},
    }
    nodes = [node(0, "u0", None), node(1, "a1", "u0", "assistant"), node(2, "a2", "u0", "assistant"),
             node(3, "r1", "a1"), node(4, "b1", "u0")]
    # a1 and a2 are one API response (same message id): not two replies.
    assert forks(nodes, lambda n: json.dumps(lines[n.offset]).encode()) == []


def test_forks_survive_cycles_repeated_uuids_and_bad_lines():
    prompt = json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}).encode()
    # A hand-made file whose parents loop: P -> X -> P, and Y under P.
    looped = forks([node(0, "P", "X"), node(1, "X", "P"), node(2, "Y", "P")], lambda n: prompt)
    assert [sorted(b["offsets"]) for b in looped[0]["branches"]] == [[0, 1, 2], [2]]
    # Repeated uuids: the first line with one is the one that counts; an unparsable child is no branch.
    nodes = [node(0, "p", None), node(1, "x", "p"), node(2, "y", "p"), node(3, "p", "y"), node(4, "x", "y"), node(5, "z", "p")]
    [fork] = forks(nodes, lambda n: b"{not json" if n.offset == 5 else prompt)
    assert [b["offsets"] for b in fork["branches"]] == [[1], [2]]


@pytest.mark.skipif(not CORPUS.exists(), reason="needs the real transcripts in ../shared/corpus")
def test_the_real_rewind_in_the_corpus(imported):
    with imported.index.reader() as r:
        [fork] = r.branches("03eb5929-52b3-4b13-ada3-b93ae35806b8")
        assert [b["preview"][:26] for b in fork["branches"]] == ["I very much like this idea", "I actually don't like much"]
        # Parallel tool calls and bash input in the other files are no forks.
        for sid in ("71c9afe9-d9cc-4583-86b3-e62ba682b83a", "0c182e15-59de-4856-8a94-00f26880354c",
                    "ef958aa1-0e93-49f0-bb71-150f63befcd1"):
            assert r.branches(sid) == []
