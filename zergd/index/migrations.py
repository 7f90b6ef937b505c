"""Numbered schema migrations, each applied once and recorded in ``_migrations``.
A migration is a function returning the SQL script it applies."""

from __future__ import annotations

import datetime as dt

import sqlite_utils

MIGRATIONS = []


def migration(fn):
    MIGRATIONS.append(fn)
    return fn


INITIAL_SQLITE = """
        create table sources (
            id integer primary key,
            host text not null,
            provider text not null,
            rel text not null,          -- path under the provider's root
            path text,                  -- absolute source path (this host only)
            unique (host, provider, rel)
        );
        create table generations (
            id integer primary key,
            source_id integer not null references sources(id),
            gen integer not null,
            archive text not null,      -- file under ZERG_HOME/sessions
            archived integer not null default 0,  -- bytes the index knows are archived
            indexed integer not null default 0,   -- end of the last complete line
            lines integer not null default 0,     -- newline-ended lines so far
            inode integer,              -- source identity when last read
            mtime_ns integer,
            started_at text not null,
            unique (source_id, gen)
        );
        create table sessions (
            id text primary key,
            source_id integer not null unique references sources(id),
            provider text not null,
            host text not null,
            project text,               -- cwd of the first line that has one
            project_dir text,           -- the (lossy) folder name Claude Code used
            title text,
            title_rank integer not null default 0,
            first_ts text,
            last_ts text,
            git_branch text,
            models text,                -- JSON list in order of first use
            user_messages integer not null default 0,
            assistant_messages integer not null default 0,
            tool_calls integer not null default 0,
            lines integer not null default 0,
            input_tokens integer not null default 0,
            output_tokens integer not null default 0,
            cache_creation_tokens integer not null default 0,
            cache_read_tokens integer not null default 0,
            parent_session_id text,
            agent_id text,
            is_subagent integer not null default 0,
            source_deleted_at text,
            updated_at text
        );
        create index sessions_last_ts on sessions (last_ts);
        create index sessions_parent on sessions (parent_session_id);
        create index sessions_project on sessions (project);
        create table lines (
            id integer primary key,     -- generation id << 40 | byte offset
            length integer not null,    -- bytes, without the newline
            lineno integer not null,    -- 1-based line number in the file
            type text,
            uuid text,
            parent_uuid text,
            ts text,
            role text,
            tools text,                 -- tool names used, comma-separated
            sidechain integer not null default 0,
            malformed integer not null default 0,  -- not a JSON object
            partial integer not null default 0,    -- no newline yet
            searchable integer not null default 0  -- has a row in lines_fts
        );
        -- Claude Code repeats usage on every content-block line of a response:
        -- one row per (message.id, requestId), fields kept at their maximum.
        create table usage (
            session_id text not null,
            msg_id text not null,
            request_id text not null,
            model text,
            ts text,
            input_tokens integer not null default 0,
            output_tokens integer not null default 0,
            cache_creation_tokens integer not null default 0,
            cache_read_tokens integer not null default 0,
            primary key (session_id, msg_id, request_id)
        ) without rowid;
        create view lines_fts_content as
            select id, zerg_line_text(id, length) as text from lines where searchable = 1;
        create virtual table lines_fts using fts5(
            text, content = 'lines_fts_content', content_rowid = 'id',
            tokenize = 'unicode61 remove_diacritics 2'
        );
    """


@migration
def m001_initial() -> str:
    return INITIAL_SQLITE


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations; return the names applied."""
    db.execute("create table if not exists _migrations (name text primary key, applied_at text)")
    from .naming import session_id_for

    db.conn.create_function("zerg_session_id", 2, session_id_for, deterministic=True)
    done = {row[0] for row in db.execute("select name from _migrations")}
    applied = []
    for fn in MIGRATIONS:
        if fn.__name__ in done:
            continue
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        # executescript would commit an open transaction first, so the
        # transaction lives inside the script: a migration applies whole or not at all.
        try:
            db.conn.executescript(
                f"begin immediate;\n{fn()}\n;insert into _migrations values ('{fn.__name__}', '{now}');\ncommit;"
            )
        except Exception:
            if db.conn.in_transaction:
                db.conn.execute("rollback")
            raise
        applied.append(fn.__name__)
    return applied


@migration
def m002_session_sort_index() -> str:
    # Session lists are ordered newest first by this expression and paged by
    # keyset (sort key, id); the expression index serves both.
    return """
        create index sessions_sort on sessions (coalesce(last_ts, first_ts, ''), id);
        create index sessions_provider on sessions (provider);
    """


@migration
def m003_subagent_meta() -> str:
    # From Claude Code's agent-<id>.meta.json sidecars.
    return """
        alter table sessions add column agent_type text;
        alter table sessions add column agent_description text;
    """


@migration
def m004_fingerprints() -> str:
    # crc: running CRC-32 of the archived bytes [0, archived), kept in step by
    # every commit, so a rescan proves in one sequential read of the source
    # that nothing in the middle changed (NULL: not known yet, computed from
    # the archive on first need).  checked_mtime_ns: the source's mtime when
    # that proof last held.  sha256: a sealed (superseded) generation's
    # digest, recorded once when it is sealed and re-verified by `zergd check`.
    return """
        alter table generations add column crc integer;
        alter table generations add column checked_mtime_ns integer;
        alter table generations add column sha256 text;
    """


@migration
def m005_pure_subagent_ids() -> str:
    # Subagent ids used to be `agent-<id>`, qualified only when a second file
    # had the same one, so they depended on the order files were seen.  Now
    # they are a function of the path (watch.sources.session_id_for).
    return """
        create temp table renames as
            select x.id as old, zerg_session_id(s.provider, s.rel) as new
            from sessions x join sources s on s.id = x.source_id where x.agent_id is not null;
        delete from renames where old = new
            or new in (select id from sessions);  -- a copy keeps its qualified id
        update usage set session_id = (select new from renames where old = usage.session_id)
            where session_id in (select old from renames);
        update sessions set id = (select new from renames where old = sessions.id)
            where id in (select old from renames);
        drop table renames;
    """


@migration
def m006_meta() -> str:
    # Facts about the index itself; parser_version says which parse.py made
    # its rows (an older one means re-deriving them from the archive).
    return "create table meta (key text primary key, value text);"


@migration
def m007_summaries() -> str:
    # A summary line titles the session owning its leafUuid, found through
    # lines_uuid whichever file is indexed first (writer._apply_summaries).
    return """
        create index lines_uuid on lines (uuid) where uuid is not null;
        create table summaries (leaf_uuid text primary key, title text not null);
    """


@migration
def m008_substring_runs() -> str:
    # Runs of scripts written without spaces (CJK, Thai...) and emoji, space-
    # separated, for substring search through a trigram index (parse.index_text);
    # only lines that have such runs get a row, so it stays small.
    return "create virtual table lines_runs using fts5(text, tokenize = 'trigram');"


@migration
def m009_usage_detail() -> str:
    # Of the cache writes, those kept an hour (priced 2x input rather than
    # 1.25x), and the web searches the API ran (priced per thousand).
    return """
        alter table usage add column cache_creation_1h_tokens integer not null default 0;
        alter table usage add column web_searches integer not null default 0;
    """


@migration
def m010_usage_counted() -> str:
    # counted = 0 on a copy of a response another session has too (a resumed
    # session repeats its history): reports sum counted rows only (writer._mark_copies).
    return """
        alter table usage add column counted integer not null default 1;
        create index usage_response on usage (msg_id, counted);
    """


@migration
def m011_drift() -> str:
    # The agent version a session's lines name, where it ran (Claude Code's
    # entrypoint: cli, vscode, ...), and the kinds of lines (types, subtypes,
    # items, tools) an agent wrote that this zergd does not know, counted per
    # agent and version (transcript Provider.unknown_kinds).
    return """
        alter table sessions add column agent_version text;
        alter table sessions add column entrypoint text;
        create table drift (provider text not null, version text not null, kind text not null,
                            lines integer not null default 0, first_seen text,
                            primary key (provider, version, kind));
    """


@migration
def m012_recovered_and_copied() -> str:
    # A prompt history (Claude Code's history.jsonl) is archived and indexed
    # as any file; the prompts of a session with no transcript in the archive
    # also form a session of their own, origin 'recovered', whose source lies
    # ``within`` the history's (its generations point into the history's
    # archive file; index/recovered.py).  The history's own session has
    # origin 'history' and is never listed.
    # A Codex thread forked or spawned from another opens with a copy of its
    # history: those lines are kept and shown, marked copied, but neither
    # searchable nor counted a second time; sessions.copying says the copy
    # is still being read (forks.py).  Sessions by folder: one whose lines
    # name no cwd takes the one its folder's other sessions name.
    return """
        alter table sources add column within integer;
        alter table sessions add column origin text;
        alter table sessions add column copying integer not null default 0;
        alter table lines add column copied integer not null default 0;
        create index sessions_folder on sessions (host, project_dir);
    """
