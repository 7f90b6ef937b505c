"""Property-based API test: schemathesis generates requests from our own
/openapi.json.  Whatever it sends, the API answers without a server error
and with a response its schema describes."""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis.errors import Unsatisfiable
from hypothesis import settings as hypothesis_settings
from schemathesis import checks
from schemathesis.generation import GenerationMode

from zergd.api.app import create_app
from zergd.config import load_settings
from zergd.index import open_index
from zergd.watch.backfill import backfill

LINES = [
    b'{"type":"user","uuid":"u1","sessionId":"s","cwd":"/work/app","gitBranch":"main",'
    b'"timestamp":"2026-05-01T10:00:00Z","message":{"role":"user","content":"fix the flaky test"}}',
    b'{"type":"assistant","uuid":"a1","parentUuid":"u1","timestamp":"2026-05-01T10:00:05Z","requestId":"r1",'
    b'"message":{"id":"m1","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"done"}],'
    b'"usage":{"input_tokens":10,"output_tokens":5}}}',
    b"not json at all",
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    base = tmp_path_factory.mktemp("props")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {"ZERG_HOME": base / "zerg", "CLAUDE_CONFIG_DIR": base / "claude",
                            "CODEX_HOME": base / "codex", "HOME": base, "ZERG_HOST": "testhost"}.items():
            mp.setenv(name, str(value))
        # Chat set up (its thread routes are tested; nothing here asks the model).
        (base / "zerg").mkdir()
        (base / "zerg" / "config.toml").write_text('anthropic_api_key = "sk-test-never-used"\n')
        folder = base / "claude" / "projects" / "-work-app"
        folder.mkdir(parents=True)
        (folder / "0c182e15-59de-4856-8a94-00f26880354c.jsonl").write_bytes(b"\n".join(LINES) + b"\n")
        settings = load_settings()
        index = open_index(settings)
        backfill(settings, index.writer())
        index.close()
        app = create_app(settings, None, bound_host="127.0.0.1", port=8080)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"Host": "127.0.0.1:8080"})
        # The live stream never ends, and asking the model needs one.
        yield schema.exclude(path="/api/events").exclude(path_regex=r"/messages$")
        if getattr(app.state, "oikos", None) is not None:
            app.state.oikos.close()


EXAMPLES = int(os.environ.get("ZERG_API_EXAMPLES", "40"))
# No server error, and every answer as documented: its status, content type
# and body.  (A date the schema cannot tell from garbage, like since=abc,
# is a documented 400, not "valid data rejected".)
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_answers_every_request_as_its_schema_says(api_schema, mode):
    """Requests the schema allows (valid) and requests it forbids (invalid:
    wrong types, missing parameters, out-of-range numbers, broken bodies)."""
    checked = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                             database=None)
        def check(case):
            case.call_and_validate(headers={"Host": "127.0.0.1:8080"}, checks=CHECKS)

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label
            continue  # nothing in it can be invalid (no parameters, no body)
        checked.append(operation.label)
    assert "GET /api/search" in checked and "GET /api/sessions/{session_id}/lines" in checked


def test_a_422_is_documented_as_it_is_sent(tmp_path, monkeypatch):
    """Every 422 is {"detail": "..."} (one sentence), in the answer and in
    /openapi.json alike, including a parameter left out."""
    from fastapi.testclient import TestClient

    monkeypatch.setenv("ZERG_HOME", str(tmp_path / "zerg"))
    app = create_app(load_settings(), None, bound_host="127.0.0.1", port=8080)
    with TestClient(app, base_url="http://127.0.0.1:8080") as c:
        doc = c.get("/openapi.json").json()
        assert "HTTPValidationError" not in str(doc)
        for path, operations in doc["paths"].items():
            for method, operation in operations.items():
                if "422" in operation["responses"]:
                    ref = operation["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (method, path)
        resp = c.get("/api/ingest/state")
        assert resp.status_code in (401, 403, 422) and isinstance(resp.json()["detail"], str)
        resp = c.post("/api/chat/threads", content=b"{not json", headers={"Content-Type": "application/json"})
        assert str(resp.status_code) in doc["paths"]["/api/chat/threads"]["post"]["responses"]
        assert isinstance(resp.json()["detail"], str)
