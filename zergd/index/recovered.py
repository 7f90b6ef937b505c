"""The writer's part that recovers sessions from a prompt history (Claude
Code's history.jsonl: every prompt typed, kept after the transcripts are
deleted).

The history is archived and indexed as any file, its lines marked copied
(each prompt is found and counted in its session) and its own session,
origin 'history', never listed.  The prompts of a session that has no
transcript in the archive also form a session of their own, origin
'recovered' ("prompts only, recovered from history"): its source lies
``within`` the history's, and its generation points into the history's
archive file, so its lines are read, searched and exported from the bytes
archived there.  When the session's transcript turns up after all, the
recovered session gives way to it (``_give_way``)."""

from __future__ import annotations

from ..transcript import PROVIDERS
from ..transcript.line import Line
from .dialect import OFFSET_BITS, line_id
from .rows import RECOVERED, Source, now_iso


def is_history(source: Source) -> bool:
    agent = PROVIDERS.get(source.provider)
    return agent is not None and agent.is_history(source.rel)


class RecoveredRows:
    """Writer methods (see writer.Writer)."""

    def _recover(self, history: Source, lines: list[Line]) -> None:
        """File the history's new ``lines`` under the sessions they were typed
        in, where those have no transcript here."""
        by_session: dict[str, list[Line]] = {}
        for ln in lines:
            if ln.session_id and not ln.malformed:
                ln.copied = 0  # the history's copy is the one not searched; this one is
                by_session.setdefault(ln.session_id, []).append(ln)
        for session_id, typed in by_session.items():
            gen_id = self._recovered_generation(history, session_id)
            if gen_id is None:
                continue  # its transcript is here: the prompts are in it
            self._add_lines(line_id(gen_id, 0), typed)
            self.conn.execute("update generations set indexed = ?, lines = lines + ? where id = ?",
                              (typed[-1].offset + typed[-1].length + 1, len(typed), gen_id))
            self._update_session(session_id, typed)
            self._changed(session_id, "updated")

    def _recovered_generation(self, history: Source, session_id: str) -> int | None:
        """The generation of ``session_id``'s recovered session that points
        into the history's current archive file, made on first need; None
        when the session is not a recovered one (it has a transcript)."""
        conn = self.conn
        row = conn.execute("select x.origin, x.source_id, s.within from sessions x join sources s on s.id = x.source_id"
                           " where x.id = ?", (session_id,)).fetchone()
        if row is not None and (row[0] != RECOVERED or row[2] != history.id):
            return None
        gen = history.generation
        if row is None:
            source_id = self._insert_id("insert into sources (host, provider, rel, path, within) values (?, ?, ?, ?, ?)",
                                        (history.host, history.provider, f"{history.rel}#{session_id}", None, history.id))
            conn.execute("insert into sessions (id, source_id, provider, host, origin, updated_at)"
                         " values (?, ?, ?, ?, ?, ?)",
                         (session_id, source_id, history.provider, history.host, RECOVERED, now_iso()))
            self._changed(session_id, "created")
        else:
            source_id = row[1]
            found = conn.execute("select id from generations where source_id = ? and archive = ?",
                                 (source_id, gen.archive)).fetchone()
            if found:
                return found[0]
        return self._insert_id(
            "insert into generations (source_id, gen, archive, started_at, crc) values"
            " (?, (select coalesce(max(gen), 0) + 1 from generations where source_id = ?), ?, ?, 0)",
            (source_id, source_id, gen.archive, now_iso()))

    def _give_way(self, session_id: str) -> None:
        """The transcript of a recovered session turned up: the recovered
        session goes (its prompts stay in the history's archive and index)."""
        conn = self.conn
        row = conn.execute("select source_id from sessions where id = ? and origin = ?",
                           (session_id, RECOVERED)).fetchone()
        if row is None:
            return
        for (gen_id,) in conn.execute("select id from generations where source_id = ?", (row[0],)).fetchall():
            base = gen_id << OFFSET_BITS
            ids = [r[0] for r in conn.execute("select id from lines where id >= ? and id < ? and searchable = 1",
                                              (base, base + (1 << OFFSET_BITS)))]
            self._unindex_text(ids)
            conn.execute("delete from lines where id >= ? and id < ?", (base, base + (1 << OFFSET_BITS)))
        conn.execute("delete from generations where source_id = ?", (row[0],))
        conn.execute("delete from sessions where id = ?", (session_id,))
        conn.execute("delete from sources where id = ?", (row[0],))
