"""The writer's part that folds parsed lines into their session's row (titles,
counts, models, branch), summaries, and usage: one row per API response
(copies marked), Codex's running totals recorded as their rises."""

from __future__ import annotations

from collections import Counter

import orjson

from ..transcript.line import RUNNING_TOTALS, Line
from .dialect import generation_of
from .rows import now_iso
from .summary import RANK_SUMMARY, SessionSummary, fold

# Token columns of the usage table, in Line.usage's order.
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
                "cache_creation_1h_tokens", "web_searches")


class SessionRows:
    """Writer methods (see writer.Writer)."""

    def _update_session(self, session_id: str, lines: list[Line]) -> None:
        conn = self.conn
        row = conn.execute(
            "select title, title_rank, first_ts, last_ts, git_branch, models, project, parent_session_id,"
            " is_subagent, provider, agent_version, entrypoint, host, project_dir from sessions where id = ?",
            (session_id,),
        ).fetchone()
        (title, rank, first_ts, last_ts, branch, models_json, project, parent, is_subagent, provider, version, where,
         host, folder) = row
        had_models = bool(models_json)
        s = SessionSummary(session_id, title, rank, first_ts, last_ts, branch,
                           orjson.loads(models_json) if models_json else [], project, parent, bool(is_subagent),
                           version, where)
        added = fold(s, lines)
        if added.keyed:
            added.assistant_messages += self._record_usage(session_id, added.keyed, s.parent_session_id is not None)
        if s.title_rank < RANK_SUMMARY and self._any_summaries():
            # This session's leaves may have been summarised in a file indexed before it.
            uuids = [ln.uuid for ln in lines if ln.uuid]
            for chunk in range(0, len(uuids), 500):
                part = uuids[chunk:chunk + 500]
                row = conn.execute(f"select title from summaries where leaf_uuid in ({', '.join('?' * len(part))})"
                                   " limit 1", part).fetchone()
                if row:
                    s.title, s.title_rank = row[0], RANK_SUMMARY
                    break
        if folder and project is None and (first_ts is None or s.project is not None):
            # Looked up once, when the session first has lines; a sibling naming it later gives it then.
            self._name_project(host, folder, s)
        conn.execute(
            "update sessions set title = ?, title_rank = ?, first_ts = ?, last_ts = ?, git_branch = ?,"
            " models = ?, project = ?, parent_session_id = ?, user_messages = user_messages + ?,"
            " assistant_messages = assistant_messages + ?, tool_calls = tool_calls + ?, lines = lines + ?,"
            " agent_version = ?, entrypoint = ?, is_subagent = ?, updated_at = ? where id = ?",
            (s.title, s.title_rank, s.first_ts, s.last_ts, s.git_branch,
             orjson.dumps(s.models).decode() if s.models or had_models else None, s.project, s.parent_session_id,
             added.user_messages, added.assistant_messages, added.tool_calls, added.lines, s.agent_version,
             s.entrypoint, 1 if s.is_subagent else 0, now_iso(), session_id),
        )
        if added.summaries:
            self._apply_summaries(added.summaries)
        self._record_drift(provider, s.agent_version, lines)

    def _name_project(self, host: str, folder: str, s: SessionSummary) -> None:
        """One project, one name: a session whose lines name no cwd takes the
        one another session in its folder named (not the folder's lossy
        name, ``-root``), and a session naming it first gives it to those."""
        if s.project is None:
            row = self.conn.execute("select project from sessions where host = ? and project_dir = ?"
                                    " and project is not null limit 1", (host, folder)).fetchone()
            s.project = row[0] if row else None
        else:
            self.conn.execute("update sessions set project = ? where host = ? and project_dir = ? and project is null",
                              (s.project, host, folder))

    def _record_drift(self, provider: str, version: str | None, lines: list[Line]) -> None:
        """Count the kinds in ``lines`` that the agent's module does not know, per version."""
        unknown = Counter(kind for ln in lines for kind in ln.unknown)
        if not unknown:
            return
        at = version or ""
        self.conn.executemany(
            "insert into drift (provider, version, kind, lines, first_seen) values (?, ?, ?, ?, ?)"
            " on conflict (provider, version, kind) do update set lines = drift.lines + excluded.lines",
            [(provider, at, kind, n, now_iso()) for kind, n in unknown.items()])

    _summaries_seen = False  # once true, stays true (summaries are never deleted)

    def _any_summaries(self) -> bool:
        """Whether any summary is recorded (most imports have none: no lookup per update)."""
        if not self._summaries_seen:
            self._summaries_seen = self.conn.execute("select 1 from summaries limit 1").fetchone() is not None
        return self._summaries_seen

    def _apply_summaries(self, summaries: list[tuple[str, str]]) -> None:
        """Each summary titles the session owning its leaf (if that session has
        no better title yet), now or when the leaf's file is indexed."""
        conn = self.conn
        for leaf, title in summaries:
            conn.execute("insert into summaries (leaf_uuid, title) values (?, ?)"
                         " on conflict (leaf_uuid) do update set title = excluded.title", (leaf, title))
            row = conn.execute(f"select x.id from lines l join generations g on g.id = {generation_of('l.id')}"
                               " join sessions x on x.source_id = g.source_id where l.uuid = ? limit 1",
                               (leaf,)).fetchone()
            if row and conn.execute("update sessions set title = ?, title_rank = ?, updated_at = ? where id = ?"
                                    " and title_rank < ?", (title, RANK_SUMMARY, now_iso(), row[0], RANK_SUMMARY)
                                    ).rowcount:
                self._changed(row[0], "updated")

    def _record_usage(self, session_id: str, keyed: list[Line], fork: bool = False) -> int:
        """Upsert usage per (message.id, requestId); return how many assistant
        messages are new.  Fields keep their maximum: old-style streaming wrote
        placeholder output_tokens on the early lines of a response."""
        conn = self.conn
        codex = [ln for ln in keyed if ln.msg_key == RUNNING_TOTALS]
        keyed = [ln for ln in keyed if ln.msg_key != RUNNING_TOTALS]
        cur = conn.executemany(
            "insert into usage (session_id, msg_id, request_id, model, ts) values (?, ?, ?, ?, ?) on conflict do nothing",
            [(session_id, ln.msg_key[0], ln.msg_key[1], ln.model, ln.ts) for ln in keyed if ln.is_assistant],
        )
        new_messages = max(cur.rowcount, 0)
        most = self.dialect.greatest
        rows = [(session_id, ln.msg_key[0], ln.msg_key[1], ln.model, ln.ts, *ln.usage) for ln in keyed if ln.usage]
        rises = self._codex_increases(session_id, codex, fork)
        rows += [r for r, copied in rises if not copied]
        baseline = [r[:5] for r, copied in rises if copied]
        if baseline:
            conn.executemany(
                "insert into usage (session_id, msg_id, request_id, model, ts, counted) values (?, ?, ?, ?, ?, 0)"
                " on conflict do nothing", baseline)
        conn.executemany(
            f"insert into usage (session_id, msg_id, request_id, model, ts, {', '.join(USAGE_FIELDS)})"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (session_id, msg_id, request_id) do update set "
            + ", ".join(f"{f} = {most}(usage.{f}, excluded.{f})" for f in USAGE_FIELDS),
            rows,
        )
        grown = self._mark_copies(session_id, [ln.msg_key for ln in keyed if ln.usage])
        for sid in {session_id} | grown:
            conn.execute(
                "update sessions set (input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens) ="
                " (select coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),"
                " coalesce(sum(cache_creation_tokens), 0), coalesce(sum(cache_read_tokens), 0)"
                " from usage where session_id = ?) where id = ?", (sid, sid))
        return new_messages

    def _mark_copies(self, session_id: str, keys: list[tuple[str, str]]) -> set[str]:
        """A response in several sessions' files (a resumed session repeats its
        history; a ``/btw`` aside replays its parent's) counts once: the
        earliest copy (then the smallest session id) keeps counted = 1, with
        the largest value of each field among the copies (a copy written
        while the response streamed holds placeholders), the others get 0.
        Copies are rows with the same key, which includes what the response
        was asked with (claude._response): two responses a proxy gave one id
        are two.  Returns the sessions whose counted row took larger values."""
        ids = list(dict.fromkeys(k[0] for k in keys))
        grown: set[str] = set()
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            groups: dict[tuple, list] = {}
            # The counted copy holds the largest values of all copies so far, so
            # only it and this session's rows (just added or grown) are needed.
            for row in self.conn.execute(
                    f"select coalesce(ts, '9999'), session_id, msg_id, request_id, counted, {', '.join(USAGE_FIELDS)}"
                    f" from usage where msg_id in ({', '.join('?' * len(part))}) and (counted = 1 or session_id = ?)",
                    (*part, session_id)):
                groups.setdefault((row[2], row[3]), []).append(row)
            keep, drop = [], []
            for (msg_id, request_id), rows in groups.items():
                if len(rows) < 2:
                    continue
                rows.sort()
                first, most = rows[0], tuple(map(max, *(r[5:] for r in rows)))
                if first[4] != 1 or first[5:] != most:
                    keep.append((*most, first[1], msg_id, request_id))
                    grown.add(first[1])
                drop += [(r[1], msg_id, request_id) for r in rows[1:] if r[4] != 0]
            if keep:
                self.conn.executemany(f"update usage set counted = 1, {', '.join(f'{f} = ?' for f in USAGE_FIELDS)}"
                                      " where session_id = ? and msg_id = ? and request_id = ?", keep)
            if drop:
                self.conn.executemany("update usage set counted = 0 where session_id = ? and msg_id = ? and request_id = ?",
                                      drop)
        return grown

    def _codex_increases(self, session_id: str, lines: list[Line], fork: bool) -> list[tuple[tuple, bool]]:
        """Codex's token_count events carry running totals, often repeated:
        each rise over the totals so far becomes one usage row (with whether
        it is part of a copied history: kept as a baseline, not counted),
        keyed by the new totals (so the same event indexed again adds
        nothing), dated when it happened.  A total that drops is a count
        starting again (a resumed session, a spawned thread) and counts from
        zero.  A forked thread may repeat totals of the history it copied
        (forks.py): those are its origin's, and add nothing."""
        if not lines:
            return []
        conn = self.conn
        latest = conn.execute(
            "select request_id from usage where session_id = ? and msg_id like 'codex@%'"
            " order by ts desc, length(msg_id) desc, msg_id desc limit 1", (session_id,)).fetchone()
        base = [int(v) for v in latest[0].split(",")] if latest and latest[0].count(",") == 2 else [0, 0, 0]
        copied = {r[0] for r in conn.execute("select request_id from usage where session_id = ?"
                                             " and msg_id like 'codex@%' and counted = 0", (session_id,))} \
            if fork else set()
        rows, last = [], sum(base)
        for ln in lines:
            fresh, output, _cc, cached, _h, _w = ln.usage
            total, totals = fresh + output + cached, f"{fresh},{output},{cached}"
            if ln.copied:
                copied.add(totals)
            elif totals in copied:
                continue  # its origin's totals again
            if total == last:
                continue  # the same totals again
            if total < last:
                base, last = [0, 0, 0], 0  # counting started again
            rise = (max(fresh - base[0], 0), max(output - base[1], 0), 0, max(cached - base[2], 0), 0, 0)
            rows.append(((session_id, f"codex@{total}", totals, ln.model, ln.ts, *rise), bool(ln.copied)))
            base, last = [fresh, output, cached], total
        return rows
