"""Who sees what: a signed-in user's ``Scope`` from the machines they own and
the grants made to them; and the brake on guessing passwords."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from ..index.scope import Scope
from .names import fold
from .store import EVERYONE, Accounts, User

__all__ = ["Scope", "Throttle", "machines_of", "owner_of", "scope_for"]


def owner_of(machine: str, owners: dict[str, str | None], own_host: str, accounts: Accounts) -> str | None:
    """The key of the user a machine's sessions belong to: the server's own
    machine (and a machine shipped with a token that names no user) belongs
    to the first admin."""
    if fold(machine) == fold(own_host):
        first = accounts.first_admin()
        return first.key if first else None
    for name, user in owners.items():
        if fold(name) == fold(machine):
            if user:
                return fold(user)
            first = accounts.first_admin()
            return first.key if first else None
    return None


def machines_of(user_key: str, owners: dict[str, str | None], own_host: str, accounts: Accounts) -> tuple[str, ...]:
    first = accounts.first_admin()
    first_key = first.key if first else None
    found = [own_host] if user_key == first_key else []
    for machine, user in owners.items():
        if (fold(user) if user else first_key) == user_key and machine not in found:
            found.append(machine)
    return tuple(found)


def scope_for(user: User, owners: dict[str, str | None], own_host: str, accounts: Accounts) -> Scope:
    """What ``user`` may read: their machines' sessions, and what was shared
    with them or with everyone."""
    projects, sessions = [], []
    for g in accounts.grants():
        if g.grantee not in (user.key, EVERYONE) or g.owner == user.key:
            continue
        if g.project is not None:
            projects.append((machines_of(g.owner, owners, own_host, accounts), g.project))
        elif g.session_id is not None and g.session_host is not None:
            sessions.append((g.session_host, g.session_id))
    return Scope(user=user.key, hosts=machines_of(user.key, owners, own_host, accounts),
                 projects=tuple(projects), sessions=tuple(sessions))


class Throttle:
    """Failed sign-ins, per name and per client: after ``free`` failures in
    ``window`` seconds, each further try must wait twice as long as the last
    (1 s, 2 s, 4 s ... at most ``cap``).  A success clears the name's count."""

    def __init__(self, free: int = 5, window: float = 900.0, cap: float = 300.0):
        self.free, self.window, self.cap = free, window, cap
        self._fails: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        fails = [t for t in self._fails.get(key, []) if now - t < self.window]
        if fails:
            self._fails[key] = fails
        else:
            self._fails.pop(key, None)
        return fails

    def wait(self, *keys: str) -> float:
        """Seconds before another try is allowed (0: now)."""
        now = time.monotonic()
        longest = 0.0
        with self._lock:
            for key in keys:
                fails = self._recent(key, now)
                if len(fails) >= self.free:
                    delay = min(self.cap, 2.0 ** (len(fails) - self.free))
                    longest = max(longest, fails[-1] + delay - now)
        return max(0.0, longest)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._fails[key] = [*self._recent(key, now), now]
            if len(self._fails) > 100_000:  # a flood of names: forget the oldest half
                for key in sorted(self._fails, key=lambda k: self._fails[k][-1])[:50_000]:
                    del self._fails[key]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._fails.pop(key, None)
