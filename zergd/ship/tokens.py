"""Ingest tokens: ``zergd token create NAME`` prints a new token once; only
its SHA-256 is kept (in ``ZERG_HOME/tokens.json``, with its name, when it was
made and last used).  Ingest is off while no token exists.

The file is not in the index on purpose: the index can be deleted and
rebuilt from the archive, tokens cannot.  Every change is a locked
read-modify-write and an atomic replace, so the CLI and the daemon can both
touch it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import orjson
import portalocker

from ..accounts.names import fold
from ..index.rows import now_iso
from .protocol import MACHINE

FILE = "tokens.json"
PREFIX = "zerg_"
# A token's last use is written at most this often (not on every batch).
TOUCH_EVERY = 60.0


class TokenError(Exception):
    """A token name that is taken or unknown, or a tokens file we cannot use."""


@dataclass(frozen=True)
class Token:
    name: str
    sha256: str
    created: str
    last_used: str | None = None
    last_machine: str | None = None
    # The one machine name it ships as, and the user that machine's sessions
    # belong to (None: the server's first admin, its owner).
    machine: str | None = None
    user: str | None = None

    def as_dict(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "created": self.created, "last_used": self.last_used,
                "last_machine": self.last_machine, "machine": self.machine, "user": self.user}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenStore:
    def __init__(self, home: Path):
        self.path = home / FILE
        self._touched: dict[str, float] = {}

    def load(self) -> list[Token]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return []
        except (OSError, orjson.JSONDecodeError) as e:
            raise TokenError(f"{self.path}: {e}") from e
        fields = set(Token.__dataclass_fields__)
        tokens = []
        for t in data.get("tokens", []) if isinstance(data, dict) else []:
            if isinstance(t, dict) and isinstance(t.get("sha256"), str) and isinstance(t.get("name"), str):
                token = Token(**{k: v for k, v in t.items() if k in fields})
                if not token.machine:
                    # Made before tokens named their machine: it keeps the one it shipped as (else its name).
                    legacy = token.last_machine or token.name
                    token = replace(token, machine=legacy if MACHINE.fullmatch(legacy) else None)
                tokens.append(token)
        return tokens

    @contextmanager
    def _editing(self):
        """The tokens, to change in place; written back atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with portalocker.Lock(str(self.path.with_name(FILE + ".lock")), mode="a", timeout=10):
            tokens = self.load()
            yield tokens
            tmp = self.path.with_name(FILE + ".tmp")
            with open(tmp, "wb") as f:
                f.write(orjson.dumps({"tokens": [t.as_dict() for t in tokens]}, option=orjson.OPT_INDENT_2))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)

    def check(self, name: str, *, machine: str | None = None, user: str | None = None, own_host: str = "",
              taken: tuple[str, ...] = (), tokens: list[Token] | None = None) -> str:
        """The machine a new token ``name`` would ship as (default: ``name``),
        or TokenError saying why it cannot be made: ``own_host`` (the
        server's own machine) and a machine of another user are refused in
        any case or Unicode spelling; ``taken``: machine folders the archive
        has, whose spelling a new token must keep."""
        name = name.strip()
        if not name or len(name) > 100 or any(c in name for c in "\r\n\t"):
            raise TokenError("a token name is 1 to 100 characters on one line")
        machine = name if machine is None else machine
        if not MACHINE.fullmatch(machine):
            raise TokenError(f"a machine name is 1-100 letters, digits, '-', '_' or '.', not starting with '.';"
                             f" {machine!r} is not one (give --machine NAME)")
        if own_host and fold(machine) == fold(own_host):
            raise TokenError(f"{machine!r} is this zergd's own machine name; a shipping machine needs another")
        for existing in taken:
            if fold(existing) == fold(machine) and existing != machine:
                raise TokenError(f"the archive has a machine spelled {existing!r}: use that spelling")
        for t in self.load() if tokens is None else tokens:
            if t.name == name:
                raise TokenError(f"a token named {name!r} exists already (revoke it first, or pick another name)")
            if t.machine and fold(t.machine) == fold(machine):
                if (fold(t.user) if t.user else None) != (fold(user) if user else None):
                    raise TokenError(f"machine {t.machine!r} belongs to {t.user or 'the server owner'}"
                                     f" (token {t.name!r}); a machine has one owner")
                if t.machine != machine:
                    raise TokenError(f"machine {machine!r} is spelled {t.machine!r} here: use that spelling")
        return machine

    def create(self, name: str, *, machine: str | None = None, user: str | None = None, own_host: str = "",
               taken: tuple[str, ...] = ()) -> str:
        """A new token (see ``check``) that writes only as its machine, for its
        user; the only time it is seen in clear."""
        token = PREFIX + secrets.token_urlsafe(32)
        with self._editing() as tokens:
            machine = self.check(name, machine=machine, user=user, own_host=own_host, taken=taken, tokens=tokens)
            tokens.append(Token(name.strip(), digest(token), now_iso(), machine=machine, user=user))
        return token

    def revoke(self, name: str) -> None:
        with self._editing() as tokens:
            kept = [t for t in tokens if t.name != name]
            if len(kept) == len(tokens):
                raise TokenError(f"no token named {name!r}")
            tokens[:] = kept

    def verify(self, presented: str | None, tokens: list[Token] | None = None) -> Token | None:
        """The token ``presented`` is (among ``tokens``, default: those stored),
        or None.  Every stored hash is compared in constant time, so timing
        tells nothing about which (or how much) matched."""
        if not presented:
            return None
        wanted = digest(presented)
        found = None
        for t in self.load() if tokens is None else tokens:
            if hmac.compare_digest(t.sha256, wanted):
                found = t
        return found

    def touch(self, token: Token, machine: str) -> None:
        """Record a use (at most once a minute per token: not a write per batch)."""
        now = time.monotonic()
        if now - self._touched.get(token.sha256, -TOUCH_EVERY) < TOUCH_EVERY and token.last_machine == machine:
            return
        self._touched[token.sha256] = now
        with self._editing() as tokens:
            tokens[:] = [replace(t, last_used=now_iso(), last_machine=machine) if t.sha256 == token.sha256 else t
                         for t in tokens]
