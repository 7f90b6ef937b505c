"""What one reader may see: the sessions of their own machines, and what
others shared with them (a project, or one session with its subagents).
Applied in SQL wherever sessions are listed, searched or summed
(``SessionFilter.scope``), and in Python for one session (``sees``).

Built by zergd.accounts from a signed-in user; ``Scope.everything()`` is
the one person of a loopback daemon, and the local CLI."""

from __future__ import annotations

from dataclasses import dataclass

from .dialect import SQLITE, Dialect


@dataclass(frozen=True)
class Scope:
    user: str | None = None
    all: bool = False
    hosts: tuple[str, ...] = ()  # machines whose sessions are the user's own
    # (the owner's machines, a project): shared with the user
    projects: tuple[tuple[tuple[str, ...], str], ...] = ()
    # (machine, session id): shared with the user, subagents included
    sessions: tuple[tuple[str, str], ...] = ()

    @classmethod
    def everything(cls) -> "Scope":
        return cls(all=True)

    def where(self, alias: str = "", dialect: Dialect = SQLITE) -> tuple[str | None, list]:
        """(a SQL condition on sessions, its parameters); None: no limit."""
        if self.all:
            return None, []
        a = f"{alias}." if alias else ""
        parts, params = [], []
        if self.hosts:
            parts.append(f"{a}host in ({', '.join('?' * len(self.hosts))})")
            params += self.hosts
        for hosts, project in self.projects:
            if hosts:
                parts.append(f"({a}host in ({', '.join('?' * len(hosts))}) and ({a}project = ? or {a}project_dir = ?))")
                params += [*hosts, project, project]
        for host, session_id in self.sessions:
            parts.append(f"({a}host = ? and ({a}id = ? or ({a}parent_session_id = ? and {a}is_subagent = 1)))")
            params += [host, session_id, session_id]
        return ("(" + " or ".join(parts) + ")" if parts else "1 = 0"), params

    def owns(self, session: dict) -> bool:
        return self.all or session.get("host") in self.hosts

    def sees(self, session: dict) -> bool:
        """The same test as ``where``, for one session row (a dict with host,
        project, project_dir, id, parent_session_id, is_subagent)."""
        if self.owns(session):
            return True
        host = session.get("host")
        for hosts, project in self.projects:
            if host in hosts and project in (session.get("project"), session.get("project_dir")):
                return True
        for granted_host, session_id in self.sessions:
            if host == granted_host and (session.get("id") == session_id or (
                    session.get("is_subagent") and session.get("parent_session_id") == session_id)):
                return True
        return False
