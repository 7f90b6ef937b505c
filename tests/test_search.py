"""Full-text search: finds known phrases; no user text is an FTS syntax error."""

import json

import pytest
from click.testing import CliRunner

from zergd.cli import zerg
from zergd.index.search import HIGHLIGHT, quote_fts

# The index suite runs on both backends: SQLite and PostgreSQL (conftest.backend).
pytestmark = pytest.mark.usefixtures("backend")


def test_finds_known_phrases(imported):
    hits = imported.search("Visa card partnerships")
    assert "d4c1bac0-628a-48b6-983e-425faf07a208" in {h.session_id for h in hits}
    hits = imported.search("lichess clone")
    assert hits and hits[0].session_id == "019aad50-a7e6-7422-b7a8-0b384290624f"
    assert HIGHLIGHT[0] in hits[0].snippet


def test_finds_cjk_and_thinking(imported):
    assert imported.search("take home project")
    assert any(h.session_id.startswith("0c182e15") for h in imported.search("personal_project"))


def test_prefix_search(imported):
    assert imported.search("partnersh*")


@pytest.mark.parametrize("query", ['AND', 'OR NOT', '"unbalanced', 'a:b', '(', ')', '*', 'NEAR(a b)',
                                   '"', '-', '^x', 'col:', "it's", '{}', 'x AND', '   ', ''])
def test_no_query_is_a_syntax_error(imported, query):
    imported.search(query)  # must not raise


def test_quote_fts():
    assert quote_fts('foo bar') == '"foo" "bar"'
    assert quote_fts('NOT x') == '"NOT" "x"'
    assert quote_fts('pre*') == '"pre"*'
    assert quote_fts('"exact phrase" y') == '"exact phrase" "y"'
    assert quote_fts('a"b') == '"a" "b"'


def test_search_cli(imported):
    runner = CliRunner()
    result = runner.invoke(zerg, ["search", "lichess clone", "--json"])
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert hits[0]["session_id"] == "019aad50-a7e6-7422-b7a8-0b384290624f"
    assert {"session_id", "ts", "lineno", "snippet"} <= set(hits[0])
    assert "[" in hits[0]["snippet"]
    result = runner.invoke(zerg, ["search", "lichess"])
    assert "session 019aad50-a7e6-7422-b7a8-0b384290624f" in result.stdout and ", line " in result.stdout
    assert runner.invoke(zerg, ["search", "(((", "--raw"]).exit_code == 1

