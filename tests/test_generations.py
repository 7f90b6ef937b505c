import pytest

"""I5: a source that shrinks or is rewritten starts a new generation; the
old one stays, unchanged and exportable.  Crash leftovers are adopted."""

from click.testing import CliRunner

from zergd import archive
from zergd.cli import zerg
from zergd.index.feed import LineFeeder
from zergd.invariants import check_all, check_immutable, snapshot

# The index suite runs on both backends: SQLite and PostgreSQL (conftest.backend).
pytestmark = pytest.mark.usefixtures("backend")

A = b'{"type":"user","message":{"role":"user","content":"alpha original"}}\n'
B = b'{"type":"user","message":{"role":"user","content":"bravo appended"}}\n'
C = b'{"type":"user","message":{"role":"user","content":"charlie rewritten"}}\n'


def src(settings):
    path = settings.agent_dir("claude") / "projects" / "-p" / "s1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def export(*args):
    result = CliRunner().invoke(zerg, ["export", *args])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def gens(index):
    return index.conn.execute("select gen, archived from generations order by gen").fetchall()


def test_append_continues_the_generation(settings, index):
    path = src(settings)
    path.write_bytes(A)
    index.backfill()
    with open(path, "ab") as f:
        f.write(B)
    index.backfill()
    assert gens(index) == [(1, len(A + B))]
    assert export("s1") == A + B


def test_truncation_starts_new_generation(settings, index):
    path = src(settings)
    path.write_bytes(A + B)
    index.backfill()
    before = snapshot(settings.archive_dir)
    path.write_bytes(C)  # shorter
    index.backfill()
    assert gens(index) == [(1, len(A + B)), (2, len(C))]
    assert export("s1") == C
    assert export("s1", "--generation", "1") == A + B
    assert check_immutable(before, settings.archive_dir) == []
    assert check_all(index.index) == []


def test_in_place_rewrite_same_size_starts_new_generation(settings, index):
    path = src(settings)
    path.write_bytes(A)
    index.backfill()
    rewritten = A.replace(b"alpha", b"omega")
    path.write_bytes(rewritten)
    index.backfill()
    assert export("s1") == rewritten
    assert export("s1", "--generation", "1") == A
    assert (settings.archive_dir / "testhost/claude/-p/s1.jsonl.gen2").read_bytes() == rewritten


def test_delete_then_recreate(settings, index):
    path = src(settings)
    path.write_bytes(A + B)
    index.backfill()
    path.unlink()
    report = index.backfill()
    assert report.deleted == ["s1"]
    assert index.session("s1")["source_deleted_at"]
    path.write_bytes(C)
    index.backfill()
    assert index.session("s1")["source_deleted_at"] is None
    assert gens(index) == [(1, len(A + B)), (2, len(C))]
    assert export("s1") == C


def test_unknown_generation_is_an_error(settings, index):
    path = src(settings)
    path.write_bytes(A)
    index.backfill()
    result = CliRunner().invoke(zerg, ["export", "s1", "--generation", "7"])
    assert result.exit_code == 2 and "generations 1" in result.stderr


def test_bytes_archived_but_not_committed_are_adopted_not_copied_twice(settings, index):
    """A kill between the archive's fsync and the index commit."""
    path = src(settings)
    path.write_bytes(A)
    index.backfill()
    with open(path, "ab") as f:
        f.write(B)
    # Simulate the crash: the archive got B, the index never heard of it.
    archive.append(settings.archive_dir / "testhost/claude/-p/s1.jsonl", B)
    index.backfill()
    assert gens(index) == [(1, len(A + B))]
    assert export("s1") == A + B
    assert index.session("s1")["user_messages"] == 2
    assert check_all(index.index) == []


def test_feeder_splits_anywhere():
    data = A + B.replace(b"bravo", "bràvo ✓".encode()) + b"\n\n" + C
    for size in (1, 2, 3, 7, 64, len(data)):
        feeder = LineFeeder(0, 0)
        got = []
        for i in range(0, len(data), size):
            got += [(ln.offset, ln.length, ln.lineno) for ln in feeder.feed(data[i:i + size]).lines]
        assert got == [(0, len(A) - 1, 1), (len(A), len(data.split(b"\n")[1]), 2),
                       (len(data) - len(C), len(C) - 1, 5)]


def test_crash_after_new_generation_bytes_before_commit(settings, index):
    """Killed after gen 2's file got bytes, before gen 2's row committed."""
    path = src(settings)
    path.write_bytes(A + B)
    index.backfill()
    path.write_bytes(C)
    archive.append(settings.archive_dir / "testhost/claude/-p/s1.jsonl.gen2", C)
    index.backfill()
    assert gens(index) == [(1, len(A + B)), (2, len(C))]
    assert export("s1") == C
    assert check_all(index.index) == []
