"""Signing in to a team server: ``POST /api/login`` with ``{"name", "password"}``
sets a session cookie (random, kept only as a hash, HttpOnly, SameSite=Strict,
Secure behind https, ended after 30 days idle); ``POST /api/logout`` ends
it; ``GET /api/me`` says who is signed in.  Failed sign-ins slow down, per
name and per client (429 with Retry-After).  A loopback daemon has nobody
to sign in: ``/api/me`` says so and the page is never shown."""

from __future__ import annotations

import asyncio
import math
import threading

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from ..accounts import fold
from ..accounts.store import IDLE_DAYS
from .access import COOKIE, viewer
from .routes import errors

router = APIRouter(responses=errors(421, 422))
# Argon2 takes 64 MiB and ~50 ms per check: two at a time, the rest wait.
_checks = threading.BoundedSemaphore(2)


class Credentials(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def _client(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/login", include_in_schema=False)
def login_page(request: Request):
    assets = request.app.state.assets
    return HTMLResponse(assets.login_html, headers={"Cache-Control": "no-cache"})


@router.post("/api/login", responses=errors(400, 401, 403, 415, 429))
async def login(request: Request, credentials: Credentials):
    access = request.app.state.access
    if not access.team:
        raise HTTPException(400, "this zergd serves one person on this machine: nobody signs in")
    client = _client(request)
    keys = (f"name:{fold(credentials.name)}", f"client:{client}")
    wait = access.throttle.wait(*keys)
    if wait > 0:
        raise HTTPException(429, f"too many failed sign-ins: try again in {math.ceil(wait)} s",
                            headers={"Retry-After": str(math.ceil(wait))})

    def check():
        with _checks:
            return access.accounts.authenticate(credentials.name, credentials.password)

    user = await run_in_threadpool(check)
    if user is None:
        access.throttle.failed(*keys)
        await asyncio.sleep(0.2)
        raise HTTPException(401, "wrong name or password")
    access.throttle.succeeded(keys[0])
    cookie = await run_in_threadpool(access.accounts.sign_in, user, client)
    response = JSONResponse(user.as_dict())
    response.set_cookie(COOKIE, cookie, max_age=IDLE_DAYS * 86400, httponly=True, samesite="strict",
                        secure=access.secure, path="/")
    return response


@router.post("/api/logout", responses=errors(403, 415))
def logout(request: Request):
    request.app.state.access.accounts.sign_out(request.cookies.get(COOKIE))
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.app.state.access.secure)
    return response


@router.get("/api/me")
def me(request: Request):
    """Who is signed in (``team``: whether this zergd has users at all)."""
    access = request.app.state.access
    found = request.scope.get("zerg.viewer")
    user = found.user if found is not None else None
    if access.team and found is None:
        return {"team": True, "signed_in": False}
    return {"team": access.team, "signed_in": True, "name": user.name if user else None,
            "admin": viewer(request).admin}
