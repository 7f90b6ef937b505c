"""One small transcript per agent version zergd claims to understand,
written for the tests from the formats as the agents' sources and trackers
describe them (see FORMATS.md), never copied from anyone's files.

Each ``Version`` says what a reader must get from it: the title, a word its
search finds, how many prompts it counts.  tests/test_versions.py holds
every one of them to that, and to having no kind of line the parser does
not know."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class Version:
    agent: str
    version: str  # as the agent writes it (Claude Code's "version", Codex's "cli_version"), or the era
    rel: str  # path under the agent's folder
    lines: list
    title: str
    word: str  # found by search, in this session
    prompts: int

    def data(self) -> bytes:
        return b"".join(json.dumps(line, ensure_ascii=False).encode() + b"\n" for line in self.lines)


def claude_line(session, version, uuid, parent, ts, **kw):
    return {"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": "/home/mei/atlas",
            "sessionId": session, "version": version, "gitBranch": "main", "uuid": uuid, "timestamp": ts, **kw}


def claude_turns(session, version, prompt, reply, **extra):
    return [
        claude_line(session, version, "u1", None, "2025-06-02T08:00:00.000Z", type="user",
                    message={"role": "user", "content": prompt}, **extra),
        claude_line(session, version, "a1", "u1", "2025-06-02T08:00:04.000Z", type="assistant", requestId="req_1",
                    message={"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
                             "content": [{"type": "text", "text": reply}], "stop_reason": "end_turn",
                             "usage": {"input_tokens": 10, "output_tokens": 20}}, **extra),
    ]


def _claude():
    s1, s2, s3 = ("0a9b8c7d-1111-4aaa-8bbb-000000000001", "0a9b8c7d-2222-4aaa-8bbb-000000000002",
                  "0a9b8c7d-3333-4aaa-8bbb-000000000003")
    v1 = claude_turns(s1, "1.0.51", "map the tiles to the quadkey grid", "Done: tiles use quadkeys now.")
    v2 = [{"type": "summary", "summary": "Quadkey tiling", "leafUuid": "zz"}] + claude_turns(
        s2, "2.0.14", "why does the heatmap flicker on zoom?", "The canvas is cleared twice per frame.") + [
        claude_line(s2, "2.0.14", "s1", "a1", "2025-10-02T08:01:00.000Z", type="system", subtype="compact_boundary",
                    content="Conversation compacted", compactMetadata={"trigger": "auto", "preTokens": 155000})]
    v21 = [
        {"type": "file-history-snapshot", "messageId": "u1", "isSnapshotUpdate": False,
         "snapshot": {"messageId": "u1", "trackedFileBackups": {}, "timestamp": "2026-11-02T08:00:00.000Z"}},
    ] + claude_turns(s3, "2.1.140", "ölçek çubuğunu metrik yap", "Ölçek çubuğu artık metrik.", entrypoint="cli") + [
        claude_line(s3, "2.1.140", "q1", "a1", "2026-11-02T08:00:06.000Z", type="attachment", entrypoint="cli",
                    attachment={"type": "queued_command", "commandMode": "prompt", "prompt": "ve mil de göster"}),
        {"type": "ai-title", "sessionId": s3, "aiTitle": "Metric scale bar"},
        {"type": "last-prompt", "sessionId": s3, "lastPrompt": "ve mil de göster", "leafUuid": "q1"},
        {"type": "permission-mode", "sessionId": s3, "permissionMode": "default"},
        {"type": "pr-link", "sessionId": s3, "prNumber": 77, "prUrl": "https://github.com/mei/atlas/pull/77",
         "prRepository": "mei/atlas", "timestamp": "2026-11-02T08:02:00.000Z"},
    ]
    return [
        Version("claude", "1.0.51", f"projects/-home-mei-atlas/{s1}.jsonl", v1, "map the tiles to the quadkey grid",
                "quadkeys", 1),
        Version("claude", "2.0.14", f"projects/-home-mei-atlas/{s2}.jsonl", v2, "why does the heatmap flicker on zoom?",
                "flicker", 1),
        Version("claude", "2.1.140", f"projects/-home-mei-atlas/{s3}.jsonl", v21, "Metric scale bar", "mil", 2),
    ]


def _codex():
    bare_id, env_id, page_id = ("5973b6c0-94b8-487b-a530-000000000001", "0199bbbb-1111-7ccc-8ddd-000000000002",
                                "019b2f4e-2222-7d20-b3a4-000000000003")
    bare = [
        {"id": bare_id, "timestamp": "2025-05-07T17:24:21.123Z", "instructions": None, "git": {"branch": "main"}},
        {"record_type": "state"},
        {"type": "message", "id": None, "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>\n  <cwd>/Users/mei/atlas</cwd>\n</environment_context>"}]},
        {"type": "message", "id": None, "role": "user", "content": [{"type": "input_text", "text": "why is the geocoder slow?"}]},
        {"type": "function_call", "id": "fc_1", "name": "shell", "call_id": "call_1",
         "arguments": "{\"command\":[\"bash\",\"-lc\",\"py-spy top -- python geocode.py\"]}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{\"output\":\"90% in rtree.query\"}"},
        {"type": "message", "id": "msg_1", "role": "assistant",
         "content": [{"type": "output_text", "text": "The R-tree is rebuilt per request."}]},
    ]

    def env(payload, ts, kind="event_msg"):
        return {"timestamp": ts, "type": kind, "payload": payload}

    enveloped = [
        env({"id": env_id, "timestamp": "2025-10-10T10:00:00.000Z", "cwd": "C:\\Users\\mei\\atlas",
             "originator": "codex_cli_rs", "cli_version": "0.46.0", "git": {"branch": "main"}},
            "2025-10-10T10:00:00.000Z", "session_meta"),
        env({"cwd": "C:\\Users\\mei\\atlas", "model": "gpt-5-codex", "approval_policy": "on-request"},
            "2025-10-10T10:00:01.000Z", "turn_context"),
        env({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "projeksiyonu EPSG:3857 yap"}]},
            "2025-10-10T10:00:02.000Z", "response_item"),
        env({"type": "user_message", "message": "projeksiyonu EPSG:3857 yap", "kind": "plain"}, "2025-10-10T10:00:02.000Z"),
        env({"type": "reasoning", "summary": [], "encrypted_content": "gAAAAB-opaque"}, "2025-10-10T10:00:03.000Z",
            "response_item"),
        env({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Web Mercator kullanılıyor."}]},
            "2025-10-10T10:00:09.000Z", "response_item"),
        env({"type": "token_count", "info": {"total_token_usage": {"input_tokens": 900, "cached_input_tokens": 100,
                                                                   "output_tokens": 50, "total_tokens": 950}}},
            "2025-10-10T10:00:09.500Z"),
        env({"message": "Summary of the work so far", "replacement_history": []}, "2025-10-10T10:05:00.000Z", "compacted"),
        env({"type": "thread_name_updated", "thread_name": "Web Mercator"}, "2025-10-10T10:06:00.000Z"),
    ]
    paginated = [
        env({"id": page_id, "timestamp": "2026-11-20T14:02:11.000Z", "cwd": "/home/mei/atlas",
             "originator": "codex_cli_rs", "cli_version": "0.150.0", "history_mode": "paginated"},
            "2026-11-20T14:02:11.000Z", "session_meta"),
        env({"type": "item_completed", "thread_id": page_id, "turn_id": "t1",
             "item": {"type": "UserMessage", "id": "u1", "content": [{"type": "text", "text": "draw the contour lines",
                                                                        "text_elements": []}]}},
            "2026-11-20T14:02:12.000Z"),
        env({"type": "item_completed", "thread_id": page_id, "turn_id": "t1",
             "item": {"type": "AgentMessage", "id": "a1", "content": [{"type": "Text", "text": "Isolines every 10 m."}]}},
            "2026-11-20T14:02:40.000Z"),
    ]
    return [
        Version("codex", "0.1 (before the envelope, 2025)", f"sessions/2025/05/07/rollout-2025-05-07T17-24-21-{bare_id}.jsonl",
                bare, "why is the geocoder slow?", "rtree", 1),
        Version("codex", "0.46.0", f"sessions/2025/10/10/rollout-2025-10-10T10-00-00-{env_id}.jsonl", enveloped,
                "Web Mercator", "EPSG", 1),
        Version("codex", "0.150.0", f"sessions/2026/11/20/rollout-2026-11-20T14-02-11-{page_id}.jsonl", paginated,
                "draw the contour lines", "Isolines", 1),
    ]


VERSIONS: list[Version] = _claude() + _codex()
