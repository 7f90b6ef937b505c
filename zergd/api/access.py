"""Who is asking, and what they may see.

A daemon bound to loopback with no public URL is one person's: every request
is theirs, nobody signs in (``Viewer.owner``).  Bound beyond loopback, or
behind a proxy that gives it a public URL, it is a *team server*: every
page and route but the sign-in page, ``/api/login``, static files and the
token-authenticated ingest needs a signed-in user (a cookie), or the local
key in ``ZERG_HOME/local.key`` that the CLI on the server itself presents.
"""

from __future__ import annotations

import hmac
import urllib.parse
from dataclasses import dataclass

from fastapi import HTTPException, Request

from ..accounts import Accounts, Scope, User
from ..accounts.access import Ownership, Throttle, scope_for
from ..accounts.localkey import LOCAL_HEADER, local_key
from ..config import Settings
from ..errors import NotFound
from ..ship.tokens import TokenStore

__all__ = ["COOKIE", "LOCAL_HEADER", "Access", "Viewer", "local_key", "machine_owners", "viewer"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
COOKIE = "zerg_session"


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def public_origin(url: str) -> tuple[str, str]:
    """(scheme, host[:port]) of a public URL, lower case; ValueError if it is none."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"--public-url must be an http:// or https:// URL with a host name, not {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"--public-url is the root of the site (https://zerg.example.com), not {url!r}")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    default = 443 if parts.scheme == "https" else 80
    netloc = host if parts.port in (None, default) else f"{host}:{parts.port}"
    return parts.scheme, netloc


@dataclass
class Viewer:
    """Who is asking: ``user`` None is the server's owner (a loopback daemon's
    one person, or the CLI with the local key), who sees everything."""

    user: User | None
    scope: Scope
    client: str | None = None

    @property
    def admin(self) -> bool:
        return self.user is None or self.user.admin

    def sees(self, session: dict | None) -> bool:
        return session is not None and self.scope.sees(session)


class Access:
    """The daemon's rules of entry, made once at start."""

    def __init__(self, settings: Settings, bound_host: str, port: int, public_url: str | None = None, *,
                 serving: bool = True):
        self.settings = settings
        self.team = not is_loopback(bound_host) or bool(public_url)
        self.accounts = Accounts(settings.home)
        self.tokens = TokenStore(settings.home)
        self.throttle = Throttle()
        self.secure = False
        names = {h for h in LOOPBACK_HOSTS} | {"[::1]"}
        if bound_host not in ("0.0.0.0", "::", ""):
            names |= {bound_host.lower(), f"[{bound_host.lower()}]" if ":" in bound_host else bound_host.lower()}
        hosts = names | {f"{n}:{port}" for n in names}
        origins = {f"http://{h}" for h in hosts}
        if not is_loopback(bound_host) and bound_host not in ("0.0.0.0", "::", ""):
            shown = f"[{bound_host}]" if ":" in bound_host else bound_host
            if not public_url:
                public_url = f"http://{shown}:{port}"
        if public_url:
            scheme, netloc = public_origin(public_url)
            hosts.add(netloc)
            origins.add(f"{scheme}://{netloc}")
            self.secure = scheme == "https"
        elif self.team:
            raise ValueError("a zergd listening on every address needs --public-url: the URL people and other"
                             " machines reach it at (e.g. http://server.lan:8080); only that Host is served")
        self.public_url = public_url
        self.hosts = hosts
        self.origins = origins
        self.local_key = local_key(settings.home, create=True) if self.team and serving else None

    # --- who is asking -------------------------------------------------------

    def viewer_for(self, cookie: str | None, local: str | None, client: str | None) -> Viewer | None:
        """The viewer a request's credentials name; None if it names nobody."""
        if not self.team:
            return Viewer(None, Scope.everything(), client)
        if local and self.local_key and hmac.compare_digest(local.encode(), self.local_key.encode()):
            return Viewer(None, Scope.everything(), client)
        user = self.accounts.signed_in(cookie)
        if user is None:
            return None
        return Viewer(user, self.scope(user), client)

    def machine_owners(self) -> dict[str, str | None]:
        """machine -> the user it belongs to (None: the first admin): as
        claimed when its first token was made, else as its tokens say."""
        return machine_owners(self.tokens, self.accounts)

    def ownership(self) -> Ownership:
        """Whose each machine is, read once (for one request)."""
        return Ownership.load(self.machine_owners(), self.settings.host, self.accounts)

    def scope(self, user: User) -> Scope:
        return scope_for(user, self.ownership(), self.accounts)

    def owner(self, machine: str) -> str | None:
        return self.ownership().owner(machine)

    def read(self, viewer: Viewer, session: dict | None, action: str, ref: str = "") -> dict:
        """``session`` if the viewer may read it (a read of another user's is
        written to the audit log), else NotFound - as for a session that does
        not exist, so ids cannot be probed."""
        if not viewer.sees(session):
            raise NotFound(f"no session {ref or (session or {}).get('id')!r}")
        if viewer.user is not None and not viewer.scope.owns(session):
            self.accounts.audit(viewer.user, self.owner(session["host"]), session["id"], action, viewer.client)
        return session


def machine_owners(tokens: TokenStore, accounts: Accounts) -> dict[str, str | None]:
    owners = {t.machine: t.user for t in tokens.load() if t.machine}
    owners.update(accounts.machine_owners())
    return owners


def viewer(request: Request) -> Viewer:
    """The request's viewer, set by the Guard (see app.py); 401 if nobody signed in."""
    found = request.scope.get("zerg.viewer")
    if found is None:
        raise HTTPException(401, "sign in first (POST /api/login)")
    return found
