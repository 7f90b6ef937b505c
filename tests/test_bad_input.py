"""Bad input loses nothing: archived exactly, indexed with what it has."""

import pytest
from click.testing import CliRunner

from zergd.cli import zerg
from zergd.invariants import check_all

GOOD = b'{"type":"user","uuid":"u1","sessionId":"s","timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":"hello zebrafish"}}\n'


def write(settings, name, data: bytes):
    path = settings.agent_dir("claude") / "projects" / "-tmp-bad" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def export_bytes(path) -> bytes:
    result = CliRunner().invoke(zerg, ["export", str(path)])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def lines_of(index, session_id):
    return index.conn.execute(
        "select l.lineno, l.type, l.malformed, l.partial, l.searchable, l.length from lines l"
        " join generations g on g.id = l.id >> 40 join sessions x on x.source_id = g.source_id"
        " where x.id = ? order by l.id", (session_id,),
    ).fetchall()


HOSTILE = {
    "not-json": GOOD + b"this is not json at all quokka\n" + GOOD,
    "nul-bytes": GOOD + b'{"type":"user","x":"a\x00b"}\n' + b"\x00\x00\x00\n" + GOOD,
    "bad-utf8": GOOD + b'{"type":"user","message":{"role":"user","content":"caf\xe9 \xff\xfe"}}\n',
    "crlf": GOOD.replace(b"\n", b"\r\n") * 2,
    "no-newline": GOOD + b'{"type":"user","message":{"role":"user","content":"last words"}}',
    "unknown-type": b'{"type":"hologram-sync","uuid":"h1","payload_v9":{"deep":[1,2,3]}}\n' + GOOD,
    "json-not-object": b'[1,2,3]\n"a string"\n42\nnull\n' + GOOD,
    "blank-lines": b"\n\n" + GOOD + b"   \n\n" + GOOD,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_archived_exactly(settings, index, name):
    data = HOSTILE[name]
    path = write(settings, f"{name}.jsonl", data)
    report = index.backfill()
    assert report.errors == []
    assert export_bytes(path) == data
    assert check_all(index.index) == []
    rows = lines_of(index, name)
    assert len(rows) == sum(1 for piece in data.split(b"\n") if piece.strip())


def test_malformed_lines_are_flagged_and_searchable(settings, index):
    write(settings, "not-json.jsonl", HOSTILE["not-json"])
    index.backfill()
    rows = lines_of(index, "not-json")
    assert [r[2] for r in rows] == [0, 1, 0]  # malformed flag
    hits = index.search("quokka")
    assert [(h.session_id, h.lineno) for h in hits] == [("not-json", 2)]


def test_invalid_utf8_and_nul_lines_flagged(settings, index):
    write(settings, "bad-utf8.jsonl", HOSTILE["bad-utf8"])
    write(settings, "nul-bytes.jsonl", HOSTILE["nul-bytes"])
    index.backfill()
    assert [r[2] for r in lines_of(index, "bad-utf8")] == [0, 1]
    assert [r[2] for r in lines_of(index, "nul-bytes")] == [0, 1, 1, 0]


def test_crlf_lines_parse(settings, index):
    write(settings, "crlf.jsonl", HOSTILE["crlf"])
    index.backfill()
    rows = lines_of(index, "crlf")
    assert [(r[1], r[2]) for r in rows] == [("user", 0), ("user", 0)]
    assert index.session("crlf")["user_messages"] == 2


def test_last_line_without_newline_is_kept_as_partial(settings, index):
    path = write(settings, "no-newline.jsonl", HOSTILE["no-newline"])
    index.backfill()
    rows = lines_of(index, "no-newline")
    assert [(r[0], r[3], r[4]) for r in rows] == [(1, 0, 1), (2, 1, 0)]  # lineno, partial, searchable
    # When the newline arrives the line becomes a normal, searchable row.
    with open(path, "ab") as f:
        f.write(b"\n")
    index.backfill()
    rows = lines_of(index, "no-newline")
    assert [(r[0], r[3], r[4]) for r in rows] == [(1, 0, 1), (2, 0, 1)]
    assert [h.lineno for h in index.search("last words")] == [2]
    assert check_all(index.index) == []


def test_empty_file(settings, index):
    path = write(settings, "empty.jsonl", b"")
    index.backfill()
    assert export_bytes(path) == b""
    assert index.session("empty")["lines"] == 0


def test_unknown_types_are_stored(settings, index):
    write(settings, "unknown-type.jsonl", HOSTILE["unknown-type"])
    index.backfill()
    assert [r[1] for r in lines_of(index, "unknown-type")] == ["hologram-sync", "user"]


def test_huge_line_is_archived_whole_and_text_capped(settings, index):
    big = b"x" * (12 << 20)
    data = GOOD + b'{"type":"user","message":{"role":"user","content":[{"type":"tool_result","content":"needle ' + big + b'"}]}}\n' + GOOD
    path = write(settings, "huge.jsonl", data)
    index.backfill()
    assert export_bytes(path) == data
    rows = lines_of(index, "huge")
    assert rows[1][5] == len(data.split(b"\n")[1])
    assert [h.lineno for h in index.search("needle")] == [2]
    assert check_all(index.index) == []


def test_an_io_error_skips_one_file_and_loses_nothing(settings, index, monkeypatch):
    """A read error halfway through one file (after some of it was archived)
    is reported; the other files are done; the next run finishes the file."""
    from zergd import archive
    from zergd.watch import tailer

    monkeypatch.setattr(tailer, "CHUNK", 64)
    flaky = write(settings, "flaky.jsonl", GOOD * 5)
    good = write(settings, "zfine.jsonl", GOOD)
    real_append, calls = archive.append, []

    def failing_append(path, data):
        calls.append(path.name)
        if path.name == "flaky.jsonl" and calls.count("flaky.jsonl") == 3:
            raise OSError(5, "Input/output error")
        return real_append(path, data)

    monkeypatch.setattr(tailer.archive, "append", failing_append)
    report = index.backfill()
    assert [(p.endswith("flaky.jsonl"), "Input/output error" in why) for p, why in report.errors] == [(True, True)]
    assert export_bytes(good) == GOOD
    assert check_all(index.index) != []  # flaky is behind its source for now...
    monkeypatch.setattr(tailer.archive, "append", real_append)
    index.backfill()
    assert export_bytes(flaky) == GOOD * 5  # ...and caught up, nothing lost or doubled
    assert check_all(index.index) == []
