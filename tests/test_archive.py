"""Archive and index on the real corpus: byte-exact export, idempotent
import, reindex from the archive alone, invariants I1-I5."""

import hashlib
import io

from click.testing import CliRunner
from conftest import CORPUS, Index, corpus_files

from zergd.cli import zerg, zergd
from zergd.index import export
from zergd.invariants import check_all, check_immutable, snapshot
from zergd.archivist.rebuild import rebuild


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_path(settings, corpus_file):
    rel = corpus_file.relative_to(CORPUS)
    if rel.parts[0] == "claude":
        return settings.agent_dir("claude") / "projects" / rel.relative_to("claude")
    return settings.agent_dir("codex") / rel.relative_to("codex")


def test_every_corpus_file_exports_byte_exact(imported):
    settings = imported.settings
    runner = CliRunner()
    for f in corpus_files():
        path = source_path(settings, f)
        result = runner.invoke(zerg, ["export", str(path)])
        assert result.exit_code == 0, (f, result.output)
        assert sha(result.stdout_bytes) == sha(f.read_bytes()), f


def test_export_by_session_id_and_prefix(imported):
    runner = CliRunner()
    want = (CORPUS / "claude/-Users-linhungfan/0c182e15-59de-4856-8a94-00f26880354c.jsonl").read_bytes()
    for ref in ("0c182e15-59de-4856-8a94-00f26880354c", "0c182e"):
        result = runner.invoke(zerg, ["export", ref])
        assert result.exit_code == 0, result.output
        assert result.stdout_bytes == want


def test_export_to_file_and_subagent_and_archive_path(imported, tmp_path):
    runner = CliRunner()
    out = tmp_path / "out.jsonl"
    result = runner.invoke(zerg, ["export", "agent-a2271d1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    sub = CORPUS / "claude/-src-experiments-claude_p/29ccd257-68b1-427f-ae5f-6524b7cb6f20/subagents/agent-a2271d1.jsonl"
    assert out.read_bytes() == sub.read_bytes()
    archived = imported.settings.archive_dir / "testhost/claude/-src-experiments-claude_p/29ccd257-68b1-427f-ae5f-6524b7cb6f20/subagents/agent-a2271d1.jsonl"
    assert archived.read_bytes() == sub.read_bytes()
    result = runner.invoke(zerg, ["export", str(archived)])
    assert result.stdout_bytes == sub.read_bytes()


def test_export_unknown_and_ambiguous(imported):
    runner = CliRunner()
    result = runner.invoke(zerg, ["export", "ffffffff-nope"])
    assert result.exit_code == 2
    assert "no session matches" in result.stderr
    result = runner.invoke(zerg, ["export", "agent-a"])
    assert result.exit_code == 2
    assert "ambiguous" in result.stderr
    assert "agent-a36efb2a1231c41e2" in result.stderr and "agent-a2271d1" in result.stderr


def test_archive_is_a_projects_tree(imported):
    archive = imported.settings.archive_dir / "testhost" / "claude"
    for f in (CORPUS / "claude").rglob("*.jsonl"):
        assert (archive / f.relative_to(CORPUS / "claude")).read_bytes() == f.read_bytes()


def test_import_twice_adds_nothing(corpus, index):
    first = index.backfill()
    assert first.bytes == sum(f.stat().st_size for f in corpus_files())
    counts = [index.scalar(f"select count(*) from {t}") for t in ("lines", "sessions", "generations", "usage")]
    before = snapshot(corpus.archive_dir)
    second = index.backfill()
    assert second.bytes == 0 and second.changed == 0
    assert [index.scalar(f"select count(*) from {t}") for t in ("lines", "sessions", "generations", "usage")] == counts
    assert snapshot(corpus.archive_dir) == before


def test_cli_import_twice(corpus):
    runner = CliRunner()
    first = runner.invoke(zergd, ["import"])
    assert first.exit_code == 0, first.output
    assert "33 files, 32 changed" in first.stderr  # the 0-byte session has nothing to copy
    second = runner.invoke(zergd, ["import"])
    assert "0 changed, 0 new bytes" in second.stderr


def test_invariants_hold_after_import(imported):
    assert check_all(imported.index) == []


def test_every_line_is_indexed(imported):
    total = 0
    for f in corpus_files():
        total += sum(1 for line in f.read_bytes().split(b"\n") if line.strip())
    assert imported.scalar("select count(*) from lines") == total


def _rows(idx):
    sessions = idx.conn.execute(
        "select * from sessions order by id").fetchall()
    cols = [d[0] for d in idx.conn.execute("select * from sessions limit 0").description]
    sessions = [tuple(v for c, v in zip(cols, row) if c not in ("updated_at", "source_id")) for row in sessions]
    lines = idx.conn.execute(
        "select x.id, g.gen, l.id & ((1 << 40) - 1), l.length, l.lineno, l.type, l.uuid, l.parent_uuid, l.ts,"
        " l.role, l.tools, l.sidechain, l.malformed, l.partial, l.searchable from lines l"
        " join generations g on g.id = l.id >> 40 join sessions x on x.source_id = g.source_id order by 1, 2, 3"
    ).fetchall()
    usage = idx.conn.execute("select * from usage order by 1, 2, 3").fetchall()
    return sessions, lines, usage


def test_reindex_rebuilds_identical_rows(imported):
    settings = imported.settings
    before = _rows(imported)
    imported.index.close()
    rebuild(settings)
    after_idx = Index(settings)
    after = _rows(after_idx)
    for a, b in zip(after[0], before[0]):
        assert a == b, [(i, x, y) for i, (x, y) in enumerate(zip(a, b)) if x != y]
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]
    assert check_all(after_idx.index) == []
    # A later import finds nothing new: identities are re-checked by content.
    assert after_idx.backfill().bytes == 0
    after_idx.index.close()


def test_export_after_source_deleted(imported):
    settings = imported.settings
    src = settings.agent_dir("claude") / "projects/-Users-linhungfan/0c182e15-59de-4856-8a94-00f26880354c.jsonl"
    want = src.read_bytes()
    src.unlink()
    report = imported.backfill()
    assert report.deleted == ["0c182e15-59de-4856-8a94-00f26880354c"]
    assert imported.session("0c182e15-59de-4856-8a94-00f26880354c")["source_deleted_at"]
    out = io.BytesIO()
    with imported.index.reader() as reader:
        gens = reader.generations("0c182e15-59de-4856-8a94-00f26880354c")
    export.copy_archived(export.pick_generation(gens, None), out)
    assert out.getvalue() == want


def test_archive_only_grows(imported):
    before = snapshot(imported.settings.archive_dir)
    src = imported.settings.agent_dir("claude") / "projects/-Users-nicksol-Desktop-agentic-wallet/01131ba6-a26e-449d-8862-cc913608c7c2.jsonl"
    with open(src, "ab") as f:
        f.write(b'{"type":"user","message":{"role":"user","content":"one more"}}\n')
    imported.backfill()
    assert check_immutable(before, imported.settings.archive_dir) == []
