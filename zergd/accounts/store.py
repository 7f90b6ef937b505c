"""``ZERG_HOME/accounts.db``: users (Argon2id password hashes), sign-ins
(cookies kept only as SHA-256), grants (who shares what with whom) and the
audit of reads of other people's sessions.

One SQLite file (WAL) that the daemon and the CLI both open; every change is
its own short transaction.  Mode 600: it holds password hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .names import check_user_name, fold

FILE = "accounts.db"
EVERYONE = "*"
# A sign-in ends after this long without a request.
IDLE_DAYS = 30
# last_seen is written at most this often per sign-in, not on every request.
TOUCH_EVERY = 60.0

SCHEMA = """
create table if not exists users (
    key text primary key,        -- the name, NFC and case-folded (names.fold)
    name text not null,          -- as it was given
    password text not null,      -- Argon2id, in its own encoded form
    admin integer not null default 0,
    created text not null
);
create table if not exists logins (
    digest text primary key,     -- sha256 of the cookie; the cookie itself is never stored
    user_key text not null,
    created text not null,
    last_seen real not null,
    client text
);
create table if not exists grants (
    id integer primary key,
    owner_key text not null,     -- whose sessions are shared
    grantee text not null,       -- a user's key, or '*' for everyone signed in
    project text,                -- a project (cwd) of the owner's ...
    session_host text,           -- ... or one session (and its subagents)
    session_id text,
    created text not null,
    unique (owner_key, grantee, project, session_host, session_id)
);
create table if not exists machines (
    key text primary key,        -- a shipping machine's name, folded
    name text not null,          -- as its first token spelled it
    user_key text                -- whose its sessions are (NULL: the first admin's)
);
create table if not exists audit (
    id integer primary key,
    ts text not null,
    user_key text not null,      -- who read
    owner_key text,              -- whose session it was
    session_id text not null,
    action text not null,        -- open, lines, export, search, chat, mcp
    client text
);
"""


class AccountError(Exception):
    """A name that is taken or unknown, a password too short, a grant that names nothing."""


@dataclass(frozen=True)
class User:
    key: str
    name: str
    admin: bool
    created: str

    def as_dict(self) -> dict:
        return {"name": self.name, "admin": self.admin, "created": self.created}


@dataclass(frozen=True)
class Grant:
    id: int
    owner: str
    grantee: str  # a user's key, or EVERYONE
    project: str | None
    session_host: str | None
    session_id: str | None
    created: str

    def as_dict(self) -> dict:
        return {"id": self.id, "owner": self.owner, "to": "everyone" if self.grantee == EVERYONE else self.grantee,
                "project": self.project, "session": self.session_id, "machine": self.session_host,
                "created": self.created}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def cookie_digest(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "surrogatepass")).hexdigest()


MIN_PASSWORD = 8


class Accounts:
    def __init__(self, home: Path):
        self.path = home / FILE
        self.hasher = PasswordHasher()  # Argon2id, RFC 9106's low-memory profile
        # A hash to verify against when the name is unknown: the answer takes as long either way.
        self._dummy: str | None = None
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._touched: dict[str, float] = {}

    # --- the file ------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        with self._lock:
            if self._conn is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                os.close(fd)
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10)
                conn.execute("pragma journal_mode = wal")
                conn.executescript(SCHEMA)
                self._conn = conn
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def exists(self) -> bool:
        return self.path.exists()

    def _run(self, sql: str, params: tuple = ()) -> "_Result":
        """Run one statement under the lock (the daemon's threads share one connection)."""
        db = self._db()
        with self._lock:
            cur = db.execute(sql, params)
            return _Result(cur.fetchall(), cur.rowcount)

    # --- users ---------------------------------------------------------------

    def users(self) -> list[User]:
        if not self.exists():
            return []
        return [User(*row[:2], bool(row[2]), row[3]) for row in
                self._run("select key, name, admin, created from users order by rowid")]

    def user(self, name: str) -> User | None:
        if not self.exists():
            return None
        row = self._run("select key, name, admin, created from users where key = ?", (fold(name),)).fetchone()
        return User(row[0], row[1], bool(row[2]), row[3]) if row else None

    def first_admin(self) -> User | None:
        """The owner of the server's own machine: the first admin added."""
        if not self.exists():
            return None
        row = self._run("select key, name, admin, created from users where admin = 1 order by rowid limit 1").fetchone()
        return User(row[0], row[1], True, row[3]) if row else None

    def add_user(self, name: str, password: str, *, admin: bool = False) -> User:
        try:
            check_user_name(name)
        except ValueError as e:
            raise AccountError(str(e)) from None
        if fold(name) == EVERYONE or fold(name) == "everyone":
            raise AccountError("'everyone' means every signed-in user in a grant; pick another name")
        encoded = self._hash(password)
        try:
            self._run("insert into users (key, name, password, admin, created) values (?, ?, ?, ?, ?)",
                      (fold(name), name, encoded, int(admin), now_iso()))
        except sqlite3.IntegrityError:
            raise AccountError(f"a user named {name!r} exists already") from None
        return self.user(name)

    def set_password(self, name: str, password: str) -> None:
        encoded = self._hash(password)
        if self._run("update users set password = ? where key = ?", (encoded, fold(name))).rowcount == 0:
            raise AccountError(f"no user named {name!r}")
        # A new password signs out every browser the old one signed in.
        self._run("delete from logins where user_key = ?", (fold(name),))

    def remove_user(self, name: str) -> None:
        key = fold(name)
        db = self._db()
        with self._lock:
            db.execute("begin immediate")
            try:
                if db.execute("delete from users where key = ?", (key,)).rowcount == 0:
                    raise AccountError(f"no user named {name!r}")
                db.execute("delete from logins where user_key = ?", (key,))
                db.execute("delete from grants where owner_key = ? or grantee = ?", (key, key))
                # Their machines' sessions stay archived; they fall to the first admin.
                db.execute("update machines set user_key = null where user_key = ?", (key,))
            except BaseException:
                db.execute("rollback")
                raise
            db.execute("commit")

    def _hash(self, password: str) -> str:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise AccountError(f"a password is at least {MIN_PASSWORD} characters")
        if len(password) > 1024:
            raise AccountError("a password is at most 1024 characters")
        return self.hasher.hash(password)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs, else None; as slow for an
        unknown name as for a wrong password."""
        row = None
        if isinstance(name, str) and len(name) <= 64 and self.exists():
            row = self._run("select key, name, admin, created, password from users where key = ?",
                            (fold(name),)).fetchone()
        if row is None:
            if self._dummy is None:
                self._dummy = self.hasher.hash(secrets.token_hex(16))
            encoded = self._dummy
        else:
            encoded = row[4]
        try:
            self.hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self.hasher.check_needs_rehash(encoded):
            self._run("update users set password = ? where key = ?", (self.hasher.hash(password), row[0]))
        return User(row[0], row[1], bool(row[2]), row[3])

    # --- sign-ins ------------------------------------------------------------

    def sign_in(self, user: User, client: str | None = None) -> str:
        """A new sign-in's cookie value (shown once; only its digest is kept)."""
        cookie = secrets.token_urlsafe(32)
        self._run("insert into logins (digest, user_key, created, last_seen, client) values (?, ?, ?, ?, ?)",
                  (cookie_digest(cookie), user.key, now_iso(), time.time(), client))
        return cookie

    def signed_in(self, cookie: str | None) -> User | None:
        """The user a cookie signs in, or None (unknown, or idle too long)."""
        if not cookie or len(cookie) > 200 or not self.exists():
            return None
        digest = cookie_digest(cookie)
        row = self._run("select u.key, u.name, u.admin, u.created, l.last_seen from logins l"
                        " join users u on u.key = l.user_key where l.digest = ?", (digest,)).fetchone()
        if row is None:
            return None
        now = time.time()
        if now - row[4] > IDLE_DAYS * 86400:
            self._run("delete from logins where digest = ?", (digest,))
            return None
        if now - self._touched.get(digest, row[4]) >= TOUCH_EVERY:
            self._touched[digest] = now
            self._run("update logins set last_seen = ? where digest = ?", (now, digest))
        return User(row[0], row[1], bool(row[2]), row[3])

    def sign_out(self, cookie: str | None) -> None:
        if cookie and self.exists():
            self._run("delete from logins where digest = ?", (cookie_digest(cookie),))

    # --- machines ------------------------------------------------------------

    def claim_machine(self, machine: str, user: str | None) -> None:
        """Record that ``machine``'s sessions are ``user``'s (None: the first
        admin's), for good: revoking its token later keeps them theirs.
        AccountError if the machine is another user's already."""
        found = self._run("select name, user_key from machines where key = ?", (fold(machine),)).fetchone()
        owner = fold(user) if user else None
        if found is None:
            self._run("insert into machines (key, name, user_key) values (?, ?, ?)", (fold(machine), machine, owner))
        elif found[1] != owner:
            raise AccountError(f"machine {found[0]!r} belongs to {found[1] or 'the server owner'}")

    def machine_owners(self) -> dict[str, str | None]:
        """Every claimed machine -> its user's key (None: the first admin)."""
        if not self.exists():
            return {}
        return {name: user for name, user in self._run("select name, user_key from machines")}

    # --- grants --------------------------------------------------------------

    def grant(self, owner: str, to: str, *, project: str | None = None,
              session: tuple[str, str] | None = None) -> Grant:
        """Share ``owner``'s ``project`` (or one ``session``: (machine, id)) with
        the user ``to`` (or everyone signed in)."""
        if (project is None) == (session is None):
            raise AccountError("share a project or a session")
        if self.user(owner) is None:
            raise AccountError(f"no user named {owner!r}")
        grantee = EVERYONE if to in (EVERYONE, "everyone") else fold(to)
        if grantee != EVERYONE and self.user(to) is None:
            raise AccountError(f"no user named {to!r}")
        if grantee == fold(owner):
            raise AccountError(f"{owner!r} sees their own sessions already")
        host, sid = session if session else (None, None)
        self._run("insert or ignore into grants (owner_key, grantee, project, session_host, session_id, created)"
                  " values (?, ?, ?, ?, ?, ?)", (fold(owner), grantee, project, host, sid, now_iso()))
        return next(g for g in self.grants() if (g.owner, g.grantee, g.project, g.session_host, g.session_id)
                    == (fold(owner), grantee, project, host, sid))

    def ungrant(self, owner: str, to: str, *, project: str | None = None, session_id: str | None = None) -> int:
        grantee = EVERYONE if to in (EVERYONE, "everyone") else fold(to)
        cur = self._run("delete from grants where owner_key = ? and grantee = ? and project is ? and session_id is ?",
                        (fold(owner), grantee, project, session_id))
        if cur.rowcount == 0:
            raise AccountError("no such grant (`zergd grant --list` shows them)")
        return cur.rowcount

    def grants(self) -> list[Grant]:
        if not self.exists():
            return []
        return [Grant(*row) for row in self._run(
            "select id, owner_key, grantee, project, session_host, session_id, created from grants order by id")]

    # --- audit ---------------------------------------------------------------

    def audit(self, user: User, owner: str | None, session_id: str, action: str, client: str | None = None) -> None:
        self._run("insert into audit (ts, user_key, owner_key, session_id, action, client) values (?, ?, ?, ?, ?, ?)",
                  (now_iso(), user.key, owner, session_id, action, client))

    def audit_log(self, limit: int = 1000) -> list[dict]:
        if not self.exists():
            return []
        return [{"ts": ts, "user": u, "owner": o, "session": s, "action": a, "client": c} for ts, u, o, s, a, c in
                self._run("select ts, user_key, owner_key, session_id, action, client from audit"
                          " order by id desc limit ?", (limit,))]


@dataclass
class _Result:
    rows: list
    rowcount: int

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def __iter__(self):
        return iter(self.rows)
