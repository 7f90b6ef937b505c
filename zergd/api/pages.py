"""The Timeline's pages and files: one HTML page for every route of the
browser app, the sign-in page, and static files under /static/<content
hash>/ (cached forever; a new version has a new hash)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import orjson
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from ..transcript import page_facts

PAGES = ("/", "/search", "/chat", "/usage")
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}


def webui_dir() -> Path:
    """The Timeline's files: inside the installed package (``zergd.webui``)."""
    return Path(str(resources.files("zergd.webui")))


class Assets:
    """Static files under /static/<content hash>/, so they can be cached forever."""

    def __init__(self, root: Path):
        self.root = root
        digest = hashlib.sha256()
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in MEDIA_TYPES:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
        self.version = digest.hexdigest()[:12]
        static = f"/static/{self.version}"
        # Inert in a script element of type application/json: no "<" or "&" as written.
        agents = orjson.dumps(page_facts()).decode()
        for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
            agents = agents.replace(char, escaped)
        html = (root / "index.html").read_text("utf-8")
        self.index_html = html.replace("%STATIC%", static).replace("%AGENTS%", agents)
        self.login_html = (root / "login.html").read_text("utf-8").replace("%STATIC%", static)

    def file(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents or not path.is_file() or path.suffix not in MEDIA_TYPES:
            raise HTTPException(404, "no such file")
        return path


def add_pages(app: FastAPI, assets: Assets) -> None:
    """The static files and the browser app's pages (all the same HTML)."""

    @app.get("/static/{version}/{path:path}", include_in_schema=False)
    def static(version: str, path: str):
        file = assets.file(path)
        cache = "public, max-age=31536000, immutable" if version == assets.version else "no-cache"
        return FileResponse(file, media_type=MEDIA_TYPES[file.suffix], headers={"Cache-Control": cache})

    def page():
        return HTMLResponse(assets.index_html, headers={"Cache-Control": "no-cache"})

    for path in PAGES:
        app.add_api_route(path, page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/s/{session_id:path}", page, methods=["GET", "HEAD"], include_in_schema=False)
