"""The guard in front of every request (pure ASGI middleware): a Host we do
not serve is 421 (DNS rebinding: a page on evil.example resolving to our
address must not read transcripts), a state-changing request from another
site 403, a request nobody signed in to on a team server 401 or the sign-in
page; every response gets the security headers."""

from __future__ import annotations

import urllib.parse

from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from .access import COOKIE, LOCAL_HEADER, Access

# Transcripts hold arbitrary HTML and JS: nothing inline runs, nothing loads
# from elsewhere, images only from our origin or data: URLs (base64 screenshots).
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


# Bodies that are not JSON: a shipper's ranges, which need a token anyway
# (a browser on another site cannot send one).
RAW_BODY_PATHS = ("/api/ingest",)
# What answers without signing in on a team server: the sign-in page and its
# files (which hold no data), and ingest (which needs its own token).
OPEN_PATHS = ("/login", "/api/login", "/api/logout", "/api/me")


def is_token_route(path: str) -> bool:
    return path == "/api/ingest" or path.startswith("/api/ingest/")


def refuse_cross_site(method: str, headers: dict, origins: set[str], path: str = "") -> JSONResponse | None:
    """A request that changes state must come from our own pages: a page on
    any other site can make a browser POST here (no preflight for a
    text/plain body), so its Origin must be ours and its body JSON."""
    if method in SAFE_METHODS:
        return None
    origin = headers.get(b"origin", b"").decode("latin-1").lower()
    if origin and origin not in origins:
        return JSONResponse({"detail": f"cross-site request from {origin} refused"}, 403)
    if headers.get(b"sec-fetch-site", b"same-origin") not in (b"same-origin", b"none"):
        return JSONResponse({"detail": "cross-site request refused"}, 403)
    has_body = headers.get(b"content-length", b"0") not in (b"0", b"") or b"transfer-encoding" in headers
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    if (method in ("POST", "PUT", "PATCH") and (has_body or content_type) and content_type != b"application/json"
            and path not in RAW_BODY_PATHS):
        return JSONResponse({"detail": "send the body as JSON (Content-Type: application/json)"}, 415)
    return None


def _cookie(headers: dict) -> str | None:
    for part in headers.get(b"cookie", b"").decode("latin-1").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


class Guard:
    """Pure ASGI middleware: 421 for a Host we do not serve (DNS rebinding),
    403 for a state-changing request from another site, on a team server 401
    (or the sign-in page) for a request nobody signed in to, and the security
    headers on every response.  The viewer it finds rides in the request's
    scope (access.viewer)."""

    def __init__(self, app, access: Access):
        self.app = app
        self.access = access

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        access = self.access
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        path = scope.get("path", "")
        token_route = is_token_route(path)
        # Ingest answers any Host: it needs a bearer token, which no rebinding page can send.
        if host not in access.hosts and not token_route:
            shown = f" (this zergd answers as {access.public_url})" if access.public_url else ""
            response = PlainTextResponse(f"Host {host!r} is not served here (DNS rebinding protection){shown}", 421)
            await response(scope, receive, send)
            return
        refused = refuse_cross_site(scope["method"], headers, access.origins, path)
        if refused is not None:
            await refused(scope, receive, send)
            return
        if not token_route:
            client = (scope.get("client") or ("", 0))[0]
            viewer = access.viewer_for(_cookie(headers), headers.get(LOCAL_HEADER.encode(), b"").decode("latin-1"),
                                       client)
            open_path = path in OPEN_PATHS or path.startswith("/static/")
            if viewer is None and not open_path:
                if path.startswith("/api/") or path.startswith("/docs") or path == "/openapi.json":
                    response = JSONResponse({"detail": "sign in first (POST /api/login)"}, 401)
                else:
                    query = scope.get("query_string", b"").decode("latin-1")
                    target = path + (f"?{query}" if query else "")
                    response = RedirectResponse("/login?" + urllib.parse.urlencode({"next": target}), 303)
                await response(scope, receive, send)
                return
            scope["zerg.viewer"] = viewer

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message, headers=list(message.get("headers", [])) + SECURITY_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
