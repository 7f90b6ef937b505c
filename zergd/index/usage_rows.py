"""Usage as the index holds it: one row per API response (or Codex rise),
summed per half hour, model, project, session or machine for zergd.usage."""

from __future__ import annotations

from ..errors import BadQuery
from .filters import SessionFilter, listed

USAGE_GROUPS = {
    # Half-hour buckets in UTC: the report turns them into days in the
    # reader's time zone (whole- and half-hour offsets), without SQL date math.
    "halfhour": "substr(u.ts, 1, 13) || (case when substr(u.ts, 15, 2) >= '30' then ':30' else ':00' end)",
    "model": "u.model",
    "project": "coalesce(x.project, x.project_dir)",
    "session": "x.id",
    "machine": "x.host",
}


USAGE_KEYS = {"day": "substr(coalesce(x.last_ts, x.first_ts), 1, 10)", "model": "u.model",
              "project": "coalesce(x.project, x.project_dir)"}


class UsageQueries:
    """Reader methods (see reader.Reader)."""

    def usage_by(self, group_by: str, flt: SessionFilter) -> list[dict]:
        """Sessions, prompts, tool calls and tokens per day, model or project,
        newest / highest key first.  Prompts and tool calls are per session, so
        they have no per-model split (None there)."""
        if group_by not in USAGE_KEYS:
            raise BadQuery("group_by must be day, model or project")
        key = USAGE_KEYS[group_by]
        where, params = flt.where("x", self.dialect)
        cond = " where " + " and ".join([*where, listed("x")])
        tokens = {k: rest for k, *rest in self.conn.execute(
            f"select {key}, count(distinct x.id), sum(u.input_tokens), sum(u.output_tokens), sum(u.cache_read_tokens)"
            f" from usage u join sessions x on x.id = u.session_id{cond} group by 1", params)}
        if group_by == "model":
            activity = {k: (n, None, None) for k, (n, *_t) in tokens.items()}
        else:
            activity = {k: (n, p, t) for k, n, p, t in self.conn.execute(
                f"select {key}, count(*), sum(x.user_messages), sum(x.tool_calls) from sessions x{cond} group by 1",
                params)}
        out = []
        for k in sorted(activity, key=lambda k: k or "", reverse=True):
            n, prompts, calls = activity[k]
            _n, i, o, cr = tokens.get(k, (0, 0, 0, 0))
            out.append({"key": k, "sessions": n, "prompts": prompts, "tool_calls": calls, "input_tokens": i or 0,
                        "output_tokens": o or 0, "cache_read_tokens": cr or 0})
        return out

    def _usage_where(self, flt: SessionFilter, since: str | None, until: str | None) -> tuple[str, list]:
        """The where clause of a usage query (usage u, sessions x): the
        sessions ``flt`` keeps, rows in [since, until), each response once."""
        where, params = flt.where("x", self.dialect)
        where.append("u.counted = 1")  # a response copied into another file counts once
        if since:
            where.append("u.ts >= ?")
            params.append(since)
        if until:
            where.append("u.ts < ?")
            params.append(until)
        return " where " + " and ".join(where), params

    def usage_sums(self, group: str, flt: SessionFilter, since: str | None, until: str | None,
                   thresholds: dict[str, int]) -> list[tuple]:
        """Token sums per (group key, provider, model, past the model's
        long-context threshold): (key, provider, model, long, rows, input,
        output, cache_creation, cache_creation_1h, cache_read, web_searches).
        ``group``: halfhour (UTC, for the caller's time zone), model, project
        or session.  ``since``/``until`` bound each row's own time."""
        key = USAGE_GROUPS[group]
        cond, params = self._usage_where(flt, since, until)
        cases = " ".join("when ? then cast(? as bigint)" for _ in thresholds)
        long = (f"case when (u.input_tokens + u.cache_creation_tokens + u.cache_read_tokens)"
                f" > (case u.model {cases} end) then 1 else 0 end" if thresholds else "0")
        long_params = [v for item in thresholds.items() for v in item]
        return [tuple(r) for r in self.conn.execute(
            f"select {key}, x.provider, u.model, {long}, count(*), sum(u.input_tokens),"
            " sum(u.output_tokens), sum(u.cache_creation_tokens), sum(u.cache_creation_1h_tokens),"
            f" sum(u.cache_read_tokens), sum(u.web_searches) from usage u join sessions x on x.id = u.session_id"
            f"{cond} group by 1, 2, 3, 4", (*long_params, *params))]

    def usage_rows(self, flt: SessionFilter, since: str | None, until: str | None) -> list[tuple]:
        """Counted usage rows in time order: (ts, provider, model, input, output,
        cache_creation, cache_creation_1h, cache_read, web_searches)."""
        cond, params = self._usage_where(flt, since, until)
        return self.conn.execute(
            "select u.ts, x.provider, u.model, u.input_tokens, u.output_tokens, u.cache_creation_tokens,"
            " u.cache_creation_1h_tokens, u.cache_read_tokens, u.web_searches from usage u"
            f" join sessions x on x.id = u.session_id{cond} and u.ts is not null order by u.ts", params).fetchall()

    def usage_models(self, flt: SessionFilter) -> list[tuple]:
        """(model, provider) of every usage row ``flt`` keeps."""
        cond, params = self._usage_where(flt, None, None)
        return self.conn.execute(f"select distinct u.model, x.provider from usage u"
                                 f" join sessions x on x.id = u.session_id{cond}", params).fetchall()

    def usage_sessions(self, group: str, flt: SessionFilter, since: str | None, until: str | None) -> list[tuple]:
        """(group key, session id) of every session with usage in each group."""
        cond, params = self._usage_where(flt, since, until)
        return self.conn.execute(f"select distinct {USAGE_GROUPS[group]}, x.id from usage u"
                                 f" join sessions x on x.id = u.session_id{cond}", params).fetchall()

    def session_titles(self, ids: list[str]) -> dict[str, dict]:
        """id -> {title, project, first_ts, provider} for a usage report's sessions."""
        out = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for sid, title, desc, project, first, provider in self.conn.execute(
                    "select id, title, agent_description, coalesce(project, project_dir), first_ts, provider"
                    f" from sessions where id in ({', '.join('?' * len(part))})", part):
                out[sid] = {"title": desc or title, "project": project, "first_ts": first, "provider": provider}
        return out
