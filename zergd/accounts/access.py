"""Who sees what: a signed-in user's ``Scope`` from the machines they own and
the grants made to them; and the brake on guessing passwords."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from ..index.scope import Scope
from .names import fold
from .store import EVERYONE, Accounts, User

__all__ = ["Ownership", "Scope", "Throttle", "scope_for"]


@dataclass(frozen=True)
class Ownership:
    """Whose each machine is, read once: ``owners`` maps a machine to its
    user (None: the first admin's), and the server's own machine is the
    first admin's."""

    owners: dict[str, str | None]
    own_host: str
    first_admin: str | None  # the first admin's key

    @classmethod
    def load(cls, owners: dict[str, str | None], own_host: str, accounts: Accounts) -> "Ownership":
        first = accounts.first_admin()
        return cls(owners, own_host, first.key if first else None)

    def owner(self, machine: str) -> str | None:
        """The key of the user a machine's sessions belong to, or None."""
        if fold(machine) == fold(self.own_host):
            return self.first_admin
        for name, user in self.owners.items():
            if fold(name) == fold(machine):
                return fold(user) if user else self.first_admin
        return None

    def machines(self, user_key: str) -> tuple[str, ...]:
        found = [self.own_host] if user_key == self.first_admin else []
        for machine, user in self.owners.items():
            if (fold(user) if user else self.first_admin) == user_key and machine not in found:
                found.append(machine)
        return tuple(found)


def scope_for(user: User, ownership: Ownership, accounts: Accounts) -> Scope:
    """What ``user`` may read: their machines' sessions, and what was shared
    with them or with everyone."""
    projects, sessions = [], []
    for g in accounts.grants():
        if g.grantee not in (user.key, EVERYONE) or g.owner == user.key:
            continue
        if g.project is not None:
            projects.append((ownership.machines(g.owner), g.project))
        elif g.session_id is not None and g.session_host is not None:
            sessions.append((g.session_host, g.session_id))
    return Scope(user=user.key, hosts=ownership.machines(user.key), projects=tuple(projects),
                 sessions=tuple(sessions))


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
