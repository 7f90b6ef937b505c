"""Talking to a running daemon from this machine: is one running, and what
does it say (``probe``).  The CLI, `zerg doctor` and the benchmarks use it.
On a team server the CLI signs in with the local key (zergd.accounts.localkey)."""

from __future__ import annotations

import http.client

import orjson

from .accounts.localkey import LOCAL_HEADER, local_key
from .config import Settings
from .daemon import read_state


def probe(settings: Settings, timeout: float = 1.0) -> dict | None:
    """The running daemon's /api/status (with its URL), or None if none answers."""
    state = read_state(settings)
    if not state:
        return None
    try:
        host = state["host"] if state["host"] not in ("0.0.0.0", "::") else "127.0.0.1"
        conn = http.client.HTTPConnection(host, state["port"], timeout=timeout)
        headers = {"Host": f"127.0.0.1:{state['port']}"}
        key = local_key(settings.home)
        if key:
            headers[LOCAL_HEADER] = key
        conn.request("GET", "/api/status", headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            return None
        info = orjson.loads(resp.read())
        info["url"] = state["url"]
        return info
    except (OSError, ValueError, KeyError):
        return None
