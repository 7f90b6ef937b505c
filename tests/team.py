"""Helpers for the team-server tests: Claude Code transcripts as other
people's machines write them (Windows paths, other scripts, a model with no
price), shipped into an index through the receiving side's own code."""

from __future__ import annotations

import hashlib

import orjson

from zergd.ship.protocol import Item

MODEL = "claude-sonnet-4-5-20250929"


def transcript(session: str, cwd: str, prompt: str, answer: str, *, ts: str = "2026-05-04T10:00:00.000Z",
               model: str = MODEL, msg: str | None = None, tokens: int = 1000) -> bytes:
    """Two lines of a Claude Code session: a prompt and a reply with usage."""
    common = {"isSidechain": False, "userType": "external", "cwd": cwd, "sessionId": session, "version": "2.1.20"}
    user = {**common, "parentUuid": None, "uuid": f"{session[:8]}-u", "timestamp": ts, "type": "user",
            "message": {"role": "user", "content": prompt}}
    reply = {**common, "parentUuid": user["uuid"], "uuid": f"{session[:8]}-a", "timestamp": ts, "type": "assistant",
             "requestId": f"req_{session[:8]}",
             "message": {"id": msg or f"msg_{session[:8]}", "type": "message", "role": "assistant", "model": model,
                         "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                         "usage": {"input_tokens": tokens, "output_tokens": tokens // 10,
                                   "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}
    return orjson.dumps(user) + b"\n" + orjson.dumps(reply) + b"\n"


def ranged(rel: str, data: bytes, provider: str = "claude") -> tuple[Item, memoryview]:
    return Item("range", provider, rel, 1, 0, len(data), hashlib.sha256(data).hexdigest()), memoryview(data)


def ship_into(writer, archive_dir, machine: str, files: dict[str, bytes]) -> list:
    """Apply whole files as ``machine`` shipped them (zergd.ship.ingest.apply)."""
    from zergd.ship.ingest import apply

    return apply(writer, archive_dir, machine, [ranged(rel, data) for rel, data in files.items()])


# Three machines, two people: the server's own (alice's), alice's laptop and bob's desktop.
ALICE_OWN = "11111111-1111-4111-8111-111111111111"
ALICE_LAPTOP = "22222222-2222-4222-8222-222222222222"
BOB_DESKTOP = "33333333-3333-4333-8333-333333333333"
BOB_SECRET = "quetzalcoatl"  # a word only bob's session holds

FILES = {
    "laptop-a": {f"C--Users-alice-src-shop/{ALICE_LAPTOP}.jsonl":
                 transcript(ALICE_LAPTOP, "C:\\Users\\alice\\src\\shop", "Fix the checkout total in the cart",
                            "The checkout total forgot the tax; fixed in cart.py.", model="claude-opus-4-1")},
    "desktop-b": {f"-home-bob-infra/{BOB_DESKTOP}.jsonl":
                  transcript(BOB_DESKTOP, "/home/bob/infra", "Rotate the database password in the vault",
                             f"Rotated it; the password is {BOB_SECRET}-42. 数据库密码已更新。",
                             model="proxy-model-without-a-price", msg="msg_20251030084941")},
}
OWN = {f"-srv-zerg-notes/{ALICE_OWN}.jsonl":
       transcript(ALICE_OWN, "/srv/zerg/notes", "Write the release notes", "Release notes written: zergd 0.2.")}
