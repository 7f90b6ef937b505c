"""The writer's part that keeps sources and generations: registering a file
(and the session it names, with an id that survives every reindex),
generations, identities, marks of deletion and moves."""

from __future__ import annotations

import hashlib

from ..archive import archive_rel, claims
from ..transcript import PROVIDERS
from ..transcript.provider import SourceInfo, path_digest
from .dialect import is_newest_generation
from .rows import GEN_COLS, HISTORY, Generation, NewestGeneration, Source, now_iso


class SourceRows:
    """Writer methods (see writer.Writer)."""

    def open_source(self, host: str, info: SourceInfo, path: str | None) -> Source:
        """The source for (host, provider, rel), registered with its session on first sight."""
        source = self.find_source(host, info.provider, info.rel)
        if source is None:
            return self._register(host, info, path)
        if path and path != source.path:
            with self.transaction():
                self.conn.execute("update sources set path = ? where id = ?", (path, source.id))
            source.path = path
        return source

    def find_source(self, host: str, provider: str, rel: str) -> Source | None:
        """The source for (host, provider, rel) if it is registered."""
        row = self.conn.execute(
            "select s.id, x.id, s.path, x.source_deleted_at from sources s join sessions x on x.source_id = s.id"
            " where s.host = ? and s.provider = ? and s.rel = ?",
            (host, provider, rel),
        ).fetchone()
        if row is None:
            return None
        source_id, session_id, path, deleted = row
        return Source(source_id, session_id, host, provider, rel, path, self._current_generation(source_id),
                      deleted=bool(deleted))

    def foreign_parent(self, host: str, info: SourceInfo) -> bool:
        """Whether the parent session a subagent's path names is another
        machine's, with no session of that id archived from ``host``."""
        parent = info.parent_session_id
        elsewhere = self.conn.execute("select 1 from sessions where id = ? and host != ?", (parent, host)).fetchone()
        if elsewhere is None:
            return False
        own = self.conn.execute("select 1 from sources where host = ? and provider = ? and rel = ?",
                                (host, info.provider, f"{info.project_dir}/{parent}.jsonl")).fetchone()
        return own is None

    def _register(self, host: str, info: SourceInfo, path: str | None) -> Source:
        agent = PROVIDERS.get(info.provider)
        origin = HISTORY if agent is not None and agent.is_history(info.rel) else None
        with self.transaction():
            self._give_way(info.session_id)  # its prompts, recovered from history while it was not here
            source_id = self._insert_id("insert into sources (host, provider, rel, path) values (?, ?, ?, ?)",
                                        (host, info.provider, info.rel, path))
            session_id = self._free_session_id(info, host)
            self.conn.execute(
                "insert into sessions (id, source_id, provider, host, project_dir, parent_session_id,"
                " agent_id, is_subagent, origin, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, source_id, info.provider, host, info.project_dir, info.parent_session_id,
                 info.agent_id, 1 if info.agent_id else 0, origin, now_iso()),
            )
            gen = self._insert_generation(source_id, host, info.provider, info.rel, 1)
        self._changed(session_id, "created")
        return Source(source_id, session_id, host, info.provider, info.rel, path, gen)

    def _insert_id(self, sql: str, params: tuple) -> int:
        """Insert one row; its new id."""
        if self.dialect.returning:
            return self.conn.execute(sql + " returning id", params).fetchone()[0]
        # SQLite has RETURNING too, but a statement left holding its row
        # made every later insert slower (a whole import 5%).
        return self.conn.execute(sql, params).lastrowid

    def _free_session_id(self, info: SourceInfo, host: str) -> str:
        """The id the path gives; only a copy of a file already archived under
        that id (the same session UUID in two places) gets it qualified by a
        digest of its own path - the one archived first keeps the plain id.
        Who got which is recorded in the archive (archive.claims) the moment
        they collide, so a rebuild, in whatever order, gives each the same."""
        claims = self._load_claims()
        key = (host, info.provider, info.rel)
        if key in claims and not self._id_taken(claims[key]):
            return claims[key]
        taken_by_claim = set(claims.values())
        candidates = [info.session_id, f"{info.session_id}-{path_digest(info.provider, info.rel)}",
                      f"{info.session_id}-{hashlib.sha1(f'{host}/{info.provider}/{info.rel}'.encode()).hexdigest()}"]
        for candidate in candidates:
            if not self._id_taken(candidate) and candidate not in taken_by_claim:
                if candidate != info.session_id:
                    self._record_collision(info.session_id, key, candidate)
                return candidate
        raise ValueError(f"session id {info.session_id!r} is taken under every qualified form")

    def _id_taken(self, session_id: str) -> bool:
        return self.conn.execute("select 1 from sessions where id = ?", (session_id,)).fetchone() is not None

    def _load_claims(self) -> dict:
        if self._claims is None:
            self._claims = claims.load(self.archive_dir) if self.archive_dir else {}
        return self._claims

    def _record_collision(self, plain: str, key: tuple[str, str, str], qualified: str) -> None:
        """Record who holds the plain id (if not yet) and who gets ``qualified``."""
        if self.archive_dir is None:
            return
        holder = self.conn.execute("select s.host, s.provider, s.rel from sessions x join sources s"
                                   " on s.id = x.source_id where x.id = ?", (plain,)).fetchone()
        assignments = ([(tuple(holder), plain)] if holder else []) + [(key, qualified)]
        for who, session_id in assignments:
            if who not in self._claims:
                claims.record(self.archive_dir, *who, session_id)
                self._claims[who] = session_id

    def _insert_generation(self, source_id: int, host: str, provider: str, rel: str, gen: int) -> Generation:
        archive = archive_rel(host, provider, rel, gen)
        gen_id = self._insert_id("insert into generations (source_id, gen, archive, started_at, crc) values (?, ?, ?, ?, 0)",
                                 (source_id, gen, archive, now_iso()))
        return Generation(gen_id, gen, archive, 0, 0, 0, None, None)

    def _current_generation(self, source_id: int) -> Generation:
        row = self.conn.execute(
            f"select {GEN_COLS} from generations where source_id = ? order by gen desc limit 1", (source_id,)
        ).fetchone()
        return Generation(*row)

    def new_generation(self, source: Source, sealed_sha256: str | None = None) -> Generation:
        """Start a new archive file for a source that shrank or was rewritten
        (I5); the old one is sealed with the digest of its archived bytes."""
        old = source.generation
        with self.transaction():
            if sealed_sha256 is not None:
                self.conn.execute("update generations set sha256 = ? where id = ?", (sealed_sha256, old.id))
            gen = self._insert_generation(source.id, source.host, source.provider, source.rel, old.gen + 1)
        old.sha256 = sealed_sha256 or old.sha256
        source.generation = gen
        return gen

    def set_identity(self, source: Source, inode: int | None, mtime_ns: int | None, *, checked: bool) -> None:
        """The source's identity when last read; ``checked`` when its whole
        archived prefix was just proven unchanged (or read from byte 0)."""
        gen = source.generation
        checked_ns = mtime_ns if checked else gen.checked_mtime_ns
        if (gen.inode, gen.mtime_ns, gen.checked_mtime_ns) == (inode, mtime_ns, checked_ns):
            return
        with self.transaction():
            self.conn.execute("update generations set inode = ?, mtime_ns = ?, checked_mtime_ns = ? where id = ?",
                              (inode, mtime_ns, checked_ns, gen.id))
        gen.inode, gen.mtime_ns, gen.checked_mtime_ns = inode, mtime_ns, checked_ns

    def set_crc(self, gen: Generation, crc: int) -> None:
        """The running CRC of a generation archived before fingerprints existed."""
        with self.transaction():
            self.conn.execute("update generations set crc = ? where id = ?", (crc, gen.id))
        gen.crc = crc

    def set_sha256(self, gen_id: int, digest: str) -> None:
        with self.transaction():
            self.conn.execute("update generations set sha256 = ? where id = ?", (digest, gen_id))

    def set_agent_meta(self, host: str, provider: str, rel: str, agent_type: str | None,
                       description: str | None) -> None:
        """A subagent's type and Task description (from its sidecar) on its session."""
        with self.transaction():
            row = self.conn.execute(
                "select x.id, x.agent_type, x.agent_description from sources s join sessions x on x.source_id = s.id"
                " where s.host = ? and s.provider = ? and s.rel = ?", (host, provider, rel)).fetchone()
            if row is None or (row[1], row[2]) == (agent_type, description):
                return
            self.conn.execute("update sessions set agent_type = ?, agent_description = ?, updated_at = ? where id = ?",
                              (agent_type, description, now_iso(), row[0]))
        self._changed(row[0], "updated")

    def mark_deleted(self, session_id: str, when: str | None = None) -> None:
        self._changed(session_id, "source_deleted")
        with self.transaction():
            self.conn.execute(
                "update sessions set source_deleted_at = coalesce(source_deleted_at, ?), updated_at = ? where id = ?",
                (when or now_iso(), now_iso(), session_id),
            )

    def moved_candidate(self, host: str, info: SourceInfo) -> tuple[int, str | None] | None:
        """(source id, its path) of the source that already has the session id
        ``info`` names, when ``info``'s file is not registered: the same
        session moved (Codex moves a rollout into archived_sessions/)."""
        if self.conn.execute("select 1 from sources where host = ? and provider = ? and rel = ?",
                             (host, info.provider, info.rel)).fetchone():
            return None
        row = self.conn.execute(
            "select s.id, s.path from sessions x join sources s on s.id = x.source_id"
            " where x.id = ? and s.host = ? and s.provider = ?", (info.session_id, host, info.provider)).fetchone()
        return (row[0], row[1]) if row else None

    def move_source(self, source_id: int, rel: str, path: str) -> None:
        """The source's file is now at ``rel`` (``path``): the same session,
        its archive and generations continue (sync decides whether the bytes do)."""
        with self.transaction():
            self.conn.execute("update sources set rel = ?, path = ? where id = ?", (rel, path, source_id))

    def mark_present(self, source: Source) -> None:
        if source.deleted:
            with self.transaction():
                self.conn.execute("update sessions set source_deleted_at = null where id = ?", (source.session_id,))
            source.deleted = False

    def known_files(self, host: str) -> dict[tuple[str, str], tuple[tuple, int | None]]:
        """(provider, rel) -> ((archived, inode, mtime_ns), checked_mtime_ns)
        of each source's newest generation on ``host``."""
        return {
            (provider, rel): ((archived, inode, mtime_ns), checked)
            for provider, rel, archived, inode, mtime_ns, checked in self.conn.execute(
                "select s.provider, s.rel, g.archived, g.inode, g.mtime_ns, g.checked_mtime_ns from sources s"
                " join generations g on g.source_id = s.id"
                f" where s.host = ? and s.within is null and {is_newest_generation('g.gen', 's.id')}",
                (host,),
            )
        }

    def newest_generations(self) -> list[NewestGeneration]:
        """Every source's newest generation."""
        return [NewestGeneration(*row) for row in self.conn.execute(
            "select s.host, s.provider, s.rel, s.path, g.gen, g.archive, g.archived from sources s"
            " join generations g on g.source_id = s.id"
            f" where s.within is null and {is_newest_generation('g.gen', 's.id')}")]

    def present_sessions(self, host: str) -> list[tuple[str, str, str]]:
        """(session id, provider, rel) of sessions on ``host`` whose source is not known to be deleted."""
        return self.conn.execute(
            "select x.id, s.provider, s.rel from sources s join sessions x on x.source_id = s.id"
            " where s.host = ? and s.within is null and x.source_deleted_at is null",
            (host,),
        ).fetchall()

    def present_session_of(self, host: str, provider: str, rel: str) -> str | None:
        """The session of a source not yet known to be deleted, or None."""
        row = self.conn.execute(
            "select x.id from sources s join sessions x on x.source_id = s.id"
            " where s.host = ? and s.provider = ? and s.rel = ? and x.source_deleted_at is null",
            (host, provider, rel)).fetchone()
        return row[0] if row else None
