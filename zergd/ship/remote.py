"""The shipper's side of the wire: HTTP(S) to another zergd's ingest API,
one kept-alive connection, errors sorted by what the shipper should do."""

from __future__ import annotations

import http.client
import ssl
import urllib.parse

import orjson

from .. import __version__
from .protocol import BEHIND_HEADER, CONTENT_TYPE


class ShipError(Exception):
    """The other side refused in a way retrying will not fix (a bad token,
    a machine name it will not take, a URL that is no zergd)."""


class ShipUnavailable(Exception):
    """Not reachable, or busy: retry later (with backoff)."""


class BodyTooLarge(Exception):
    """413: send smaller batches."""


class Remote:
    def __init__(self, url: str, token: str, timeout: float = 120.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ShipError(f"{url!r} is not an http:// or https:// URL of a zergd")
        self.url = url.rstrip("/")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.netloc = parts.netloc.rsplit("@", 1)[-1]
        self.base = parts.path.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        if self._conn is not None:
            return self._conn, True
        if self.https:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._conn = conn
        return conn, False

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
        """(status, JSON answer).  Network trouble is ShipUnavailable; a kept-alive
        connection the server had closed is retried once on a new one (safe:
        ingest is idempotent)."""
        sent = {"Host": self.netloc, "Authorization": f"Bearer {self.token}", "User-Agent": f"zergd-ship/{__version__}",
                "Accept": "application/json", **(headers or {})}
        for _attempt in range(2):
            conn, reused = self._connection()
            try:
                conn.request(method, self.base + path, body=body, headers=sent)
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                self.close()
                if reused:
                    continue
                raise ShipUnavailable(f"{self.url}: {e}") from None
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise ShipUnavailable(f"{self.url}: {e}") from None
            if resp.getheader("connection", "").lower() == "close":
                self.close()
            return resp.status, _json(data)
        raise ShipUnavailable(f"{self.url}: the connection keeps closing")  # pragma: no cover

    def whoami(self) -> str | None:
        """The machine name the token ships as there (None: a zergd too old to say)."""
        status, answer = self.call("GET", "/api/ingest/whoami")
        if status == 404:
            return None
        _raise_for(status, answer, self.url)
        machine = answer.get("machine")
        return machine if isinstance(machine, str) else None

    def state(self, machine: str) -> dict:
        status, answer = self.call("GET", "/api/ingest/state?" + urllib.parse.urlencode({"machine": machine}))
        _raise_for(status, answer, self.url)
        return answer

    def send(self, body: bytes, left: int | None = None) -> tuple[int, dict]:
        """POST a body from protocol.encode; (200 or 409, the per-item answer).
        ``left``: bytes still to ship after this batch, for the other side's status."""
        headers = {"Content-Type": CONTENT_TYPE, "Content-Encoding": "gzip"}
        if left is not None:
            headers[BEHIND_HEADER] = str(max(left, 0))
        status, answer = self.call("POST", "/api/ingest", body, headers)
        if status == 409 and "results" in answer:
            return status, answer
        _raise_for(status, answer, self.url)
        return status, answer


def _json(data: bytes) -> dict:
    try:
        found = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {"detail": data[:200].decode("utf-8", "replace")}
    return found if isinstance(found, dict) else {"detail": str(found)[:200]}


def _raise_for(status: int, answer: dict, url: str) -> None:
    if status == 200:
        return
    detail = answer.get("detail") or f"HTTP {status}"
    if status == 413:
        raise BodyTooLarge(detail)
    if status in (429, 502, 503, 504):
        raise ShipUnavailable(f"{url}: {detail}")
    if status == 404:
        raise ShipError(f"{url} has no ingest API (is it a zergd, and new enough?)")
    raise ShipError(f"{url} refused: {detail}")
