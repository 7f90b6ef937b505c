"""``zerg statusline``: one short line for Claude Code's status line, run on
every prompt, so it must be fast: it imports nothing but the standard
library's basics and asks the running daemon (``GET /api/statusline``),
which has the index open.  Without a daemon it reads the index itself
(slower: it loads the price table).

Claude Code passes the session as JSON on stdin (``session_id`` among
others); settings.json:  {"statusLine": {"type": "command", "command": "zerg statusline"}}
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
from pathlib import Path

PLAIN_ID = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


def session_of(stdin) -> str | None:
    """The session_id in the JSON Claude Code passes, if it passes one."""
    if stdin is None or stdin.isatty():
        return None
    try:
        found = json.loads(stdin.read(1 << 20) or "null")
    except (ValueError, UnicodeDecodeError):
        return None
    sid = found.get("session_id") if isinstance(found, dict) else None
    return sid if isinstance(sid, str) and PLAIN_ID.match(sid) else None


def ask_daemon(home: Path, session: str | None, timeout: float = 2.0) -> str | None:
    """The daemon's line, or None when no daemon answers."""
    try:
        state = json.loads((home / "zergd.json").read_text())
        host = state["host"] if state["host"] not in ("0.0.0.0", "::") else "127.0.0.1"
        port = int(state["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        key = (home / "local.key").read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        key = ""
    path = "/api/statusline" + (f"?session={session}" if session else "")
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
               + (f"x-zerg-local: {key}\r\n" if key else "") + "\r\n")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request.encode())
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    except OSError:
        return None
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
        return None
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    try:
        return json.loads(body)["line"]
    except (ValueError, KeyError, TypeError):
        return None


def _unchunk(body: bytes) -> bytes:
    out, rest = [], body
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out.append(rest[:n])
        rest = rest[n + 2:]
    return b"".join(out)


def read_index(session: str | None) -> str:
    """The line from the index itself (no daemon running)."""
    from .config import load_settings
    from .index.store import open_index
    from .prices import use_cache
    from .usage import statusline, statusline_text

    settings = load_settings()
    use_cache(settings.home / "prices.json")
    index = open_index(settings)
    try:
        if not index.exists():
            return "zergd: nothing archived yet (zergd start)"
        with index.reader() as reader:
            return statusline_text(statusline(reader, session))
    finally:
        index.close()


def main(argv: list[str] | None = None, stdin=None) -> int:
    """Print the line; never fail Claude Code's status line (a problem is the line)."""
    session = session_of(sys.stdin if stdin is None else stdin)
    home = Path(os.environ.get("ZERG_HOME") or Path.home() / ".zerg").expanduser()
    try:
        line = ask_daemon(home, session) or read_index(session)
    except Exception as e:  # noqa: BLE001 - a status line shows what went wrong, it does not crash
        line = f"zergd: {str(e).splitlines()[0][:80] if str(e) else type(e).__name__}"
    sys.stdout.write(line + "\n")
    return 0
