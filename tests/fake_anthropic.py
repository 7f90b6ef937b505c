"""A local stand-in for the Anthropic Messages API, reached by the real
anthropic client through its base URL.  It speaks the streaming protocol
(message_start, content_block_*, message_delta, message_stop) and follows a
script: a question gets a ``search_sessions`` tool call for the words in
its quotes; tool results get an answer citing the first link they hold.
``fail_with`` makes it answer with an API error instead."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERRORS = {
    401: ("authentication_error", "invalid x-api-key"),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit"),
    529: ("overloaded_error", "Overloaded"),
    404: ("not_found_error", "model: nope"),
}


class FakeAnthropic:
    def __init__(self):
        self.requests: list[dict] = []
        self.fail_with: int | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                fake.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if fake.fail_with:
                    kind, message = ERRORS[fake.fail_with]
                    payload = json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
                    self.send_response(fake.fail_with)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                for event in fake.script(body):
                    self.wfile.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        return Handler

    # --- what the fake model says ------------------------------------------------

    def script(self, body: dict):
        last = body["messages"][-1]
        content = last["content"]
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] \
            if isinstance(content, list) else []
        wants_tools = body.get("tool_choice", {}).get("type") != "none"
        if results or not wants_tools:
            text = " ".join(r["content"] if isinstance(r["content"], str) else "" for r in results)
            link = re.search(r"\[link\]\((/s/[^)\s]+)\)", text)
            cite = f"[this session]({link.group(1)})" if link else "nothing in the archive"
            answer = f"You built it in {cite}. It started with a basic board."
            yield from self._message(body, [("text", answer)], "end_turn")
        else:
            question = content if isinstance(content, str) else ""
            quoted = re.search(r"“([^”]+)”|\"([^\"]+)\"", question)
            query = (quoted.group(1) or quoted.group(2)) if quoted else question
            yield from self._message(body, [("text", "Let me look. "),
                                            ("tool_use", {"name": "search_sessions", "input": {"query": query}})],
                                     "tool_use")

    def _message(self, body, blocks, stop_reason):
        n = len(self.requests)
        yield {"type": "message_start", "message": {
            "id": f"msg_{n}", "type": "message", "role": "assistant", "model": body["model"], "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}
        for index, (kind, value) in enumerate(blocks):
            if kind == "text":
                yield {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
                for piece in re.findall(r"\S+\s*", value):  # stream word by word
                    yield {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}
            else:
                yield {"type": "content_block_start", "index": index, "content_block": {
                    "type": "tool_use", "id": f"toolu_{n}_{index}", "name": value["name"], "input": {}}}
                raw = json.dumps(value["input"])
                for i in range(0, len(raw), 7):
                    yield {"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta", "partial_json": raw[i:i + 7]}}
            yield {"type": "content_block_stop", "index": index}
        yield {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
               "usage": {"output_tokens": 20}}
        yield {"type": "message_stop"}
