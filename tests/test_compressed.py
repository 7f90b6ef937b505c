"""Codex compresses a rollout idle for a week to ``rollout-….jsonl.zst``
and deletes the plain file; resuming it writes the plain file back.  One
logical stream: one session, one generation, never a deletion mark."""

import hashlib
import json
import time

from backports import zstd
from test_tailing import wait_for

from zergd.archive.sidecars import archived_versions
from zergd.events import EventBus
from zergd.watch.backfill import plan
from zergd.watch.service import ArchiveService

SID = "019a4c2e-5b7d-7f10-9c3e-8e2a61d0b4f7"
NAME = f"rollout-2026-10-01T08-15-42-{SID}.jsonl"
REL = f"2026/10/01/{NAME}"


def line(kind, payload, ts="2026-10-01T08:15:42.120Z"):
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}, ensure_ascii=False).encode() + b"\n"


ROLLOUT = b"".join([
    line("session_meta", {"id": SID, "timestamp": "2026-10-01T08:15:42.000Z", "cwd": "D:\\src\\kasse",
                          "originator": "codex_cli_rs", "cli_version": "0.140.0"}),
    line("turn_context", {"cwd": "D:\\src\\kasse", "model": "gpt-5.1-codex"}),
    line("event_msg", {"type": "user_message", "message": "Kassenbon-Export für März reparieren"}),
    line("response_item", {"type": "message", "role": "assistant",
                           "content": [{"type": "output_text", "text": "Der Export schreibt jetzt UTF-8 mit BOM."}]}),
])
RESUMED = line("response_item", {"type": "message", "role": "user", "content": [
    {"type": "input_text", "text": "und jetzt die Steuerzeilen"}]}, ts="2026-10-09T11:00:00.000Z") + line(
    "event_msg", {"type": "user_message", "message": "und jetzt die Steuerzeilen"}, ts="2026-10-09T11:00:00.000Z")


def rollout_dir(settings, root="sessions"):
    folder = settings.agent_dir("codex") / root / "2026" / "10" / "01"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def compress(path):
    """What Codex's compression worker leaves: the .zst, and no plain file."""
    packed = path.with_name(path.name + ".zst")
    packed.write_bytes(zstd.compress(path.read_bytes(), level=3))
    path.unlink()
    return packed


def rows(index):
    return index.conn.execute("select x.id, x.source_deleted_at, (select count(*) from generations g"
                              " where g.source_id = x.source_id) from sessions x").fetchall()


def test_compressed_then_resumed_stays_one_session_and_one_generation(settings, index):
    plain = rollout_dir(settings) / NAME
    plain.write_bytes(ROLLOUT)
    index.backfill()
    packed = compress(plain)
    index.backfill()
    assert rows(index) == [(SID, None, 1)]  # not deleted, no new generation
    [record] = archived_versions(settings.archive_dir, settings.host, "codex", REL + ".zst.sha256")
    assert record.read_text().split() == [hashlib.sha256(packed.read_bytes()).hexdigest(), NAME + ".zst"]
    assert plan(settings, index.writer)[0] == []  # an unchanged .zst is not decompressed again

    plain.write_bytes(zstd.decompress(packed.read_bytes()) + RESUMED)  # resumed: written back, then appended
    packed.unlink()
    index.backfill()
    assert rows(index) == [(SID, None, 1)]
    assert (settings.archive_dir / settings.host / "codex" / REL).read_bytes() == ROLLOUT + RESUMED
    assert [h.session_id for h in index.search("Steuerzeilen")] == [SID]


def test_a_compressed_rollout_met_first_is_archived_decompressed(settings, index):
    plain = rollout_dir(settings, "archived_sessions") / NAME
    plain.write_bytes(ROLLOUT)
    compress(plain)
    index.backfill()
    assert (settings.archive_dir / settings.host / "codex" / REL).read_bytes() == ROLLOUT
    assert rows(index) == [(SID, None, 1)]
    session = index.session(SID)
    assert session["title"] == "Kassenbon-Export für März reparieren"
    assert [h.session_id for h in index.search("Export schreibt")] == [SID]


def test_a_damaged_zst_is_set_aside_and_the_rest_goes_on(settings, index):
    folder = rollout_dir(settings)
    damaged = folder / (NAME.replace(SID, "019a4c2e-0000-7000-8000-000000000001") + ".zst")
    damaged.write_bytes(b"\x28\xb5\x2f\xfdnot really zstd")
    (folder / NAME).write_bytes(ROLLOUT)
    report = index.backfill()
    assert rows(index) == [(SID, None, 1)]
    assert any("zstd" in f["reason"] for f in report.faults.snapshot())
    kept = settings.archive_dir / settings.host / "codex" / "2026/10/01" / (damaged.name)
    assert kept.read_bytes() == damaged.read_bytes()  # kept as it is, though it cannot be read


def test_live_compression_is_no_deletion(settings):
    service = ArchiveService(settings, EventBus(), rescan_interval=60)
    service.start()
    try:
        assert service.ready.wait(10)
        plain = rollout_dir(settings) / NAME
        plain.write_bytes(ROLLOUT)
        record = settings.archive_dir / settings.host / "codex" / (REL + ".zst.sha256")

        def state():
            with service.index.reader() as r:
                return r.session(SID)

        wait_for(lambda: state() is not None)
        compress(plain)
        wait_for(record.exists)
        time.sleep(0.5)  # the deletion's event too
        assert state()["source_deleted_at"] is None
        plain.write_bytes(zstd.decompress(plain.with_name(NAME + ".zst").read_bytes()) + RESUMED)
        plain.with_name(NAME + ".zst").unlink()
        wait_for(lambda: state()["user_messages"] == 2)
        assert state()["source_deleted_at"] is None
    finally:
        service.stop()
