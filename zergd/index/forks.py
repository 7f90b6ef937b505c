"""The writer's part that finds the copy a forked thread opens with.

A Codex thread forked from another (``forked_from_id``), or spawned by it as
a subagent (``parent_thread_id``), starts its rollout with its own header and
then a copy of the other thread's history, written in one burst when the
thread is made and stamped with that moment.  Its own work begins at the
first gap longer than ``COPY_GAP`` (its first turn comes seconds later).
Those copied lines are kept and shown, marked ``copied``: not searchable
(the original is), not counted, and their running token totals are only the
baseline the thread's own usage is counted from (session_rows)."""

from __future__ import annotations

import datetime as dt

from ..transcript.line import Line

COPY_GAP = 1.0  # seconds


def _seconds(ts: str | None) -> float | None:
    try:
        return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() if ts else None
    except ValueError:
        return None


class CopiedRows:
    """Writer methods (see writer.Writer)."""

    _copying: set[str] | None = None  # sessions whose copy is still being read

    def _mark_copied(self, session_id: str, lines: list[Line]) -> None:
        """Set ``copied`` on the lines of ``lines`` that belong to the copy
        its session opened with, if it is a thread that opens with one."""
        if self._copying is None:
            self._copying = {r[0] for r in self.conn.execute("select id from sessions where copying = 1")}
        first = lines[0] if lines else None
        opens = first is not None and first.lineno == 1 and first.forked_from is not None
        if not opens and session_id not in self._copying:
            return
        if opens:
            last, rest = _seconds(first.ts), lines[1:]
        else:
            row = self.conn.execute("select last_ts from sessions where id = ?", (session_id,)).fetchone()
            last, rest = _seconds(row[0] if row else None), lines
        copying = True
        for ln in rest:
            at = _seconds(ln.ts)
            if at is not None and last is not None and at - last > COPY_GAP:
                copying = False
                break
            ln.copied = 1
            last = at if at is not None else last
        if copying != (session_id in self._copying):
            (self._copying.add if copying else self._copying.discard)(session_id)
            self.conn.execute("update sessions set copying = ? where id = ?", (1 if copying else 0, session_id))
