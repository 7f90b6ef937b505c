"""A session's lines, a page at a time (``LinePage``: index rows with the
archived bytes of each line), where a line number is, and the forks of a
conversation."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from .branches import Node, forks
from .dialect import OFFSET_BITS, split_line_id

LINE_COLS = ("id", "length", "lineno", "type", "uuid", "parent_uuid", "ts", "role", "tools", "sidechain",
             "malformed", "partial", "copied")


# Lines longer than this are sent as a preview; the full bytes are one click
# away (export).  Base64 screenshots are ~1 MB, so they still render.
LINE_SEND_CAP = 4 << 20


@dataclass
class LinePage:
    gen: int
    items: list[bytes]  # one JSON object per line, ready to join
    after: int | None  # pass as ``after`` for the next page
    before: int | None  # pass as ``before`` for the previous page

    def to_json(self) -> bytes:
        head = orjson.dumps({"gen": self.gen, "next_after": self.after, "prev_before": self.before})
        return head[:-1] + b',"lines":[' + b",".join(self.items) + b"]}"


def _line_json(gen_no: int, row, fd) -> bytes:
    meta = dict(zip(LINE_COLS, row))
    lid, length = meta.pop("id"), meta["length"]
    meta["offset"] = split_line_id(lid)[1]
    meta["gen"] = gen_no
    # partial 2: an unterminated last line indexed once its file went quiet;
    # whole JSON, shown as any other line.
    meta["sidechain"], meta["malformed"], meta["partial"], meta["copied"] = (
        bool(meta["sidechain"]), bool(meta["malformed"]), meta["partial"] == 1, bool(meta["copied"]))
    raw = os.pread(fd, min(length, LINE_SEND_CAP), meta["offset"]) if fd is not None else b""
    head = orjson.dumps(meta)[:-1]
    if meta["malformed"] or meta["partial"] or length > LINE_SEND_CAP or len(raw) < length:
        meta_raw = raw[:256 << 10].decode("utf-8", "replace")
        return head + b',"truncated":' + (b"true" if length > len(meta_raw.encode()) else b"false") + \
            b',"raw":' + orjson.dumps(meta_raw) + b',"obj":null}'
    # The archived bytes are a JSON object already (the index parsed them):
    # send them as they are, no parse and re-serialise.
    return head + b',"truncated":false,"raw":null,"obj":' + raw.rstrip(b"\r") + b"}"


class LineQueries:
    """Reader methods (see reader.Reader)."""

    def _generation_of(self, session_id: str, gen: int | None) -> tuple[int, int, Path] | None:
        """(generation id, number, archive path): the given generation, or the newest."""
        sql = ("select g.id, g.gen, g.archive from generations g join sessions x on x.source_id = g.source_id"
               " where x.id = ?")
        params: list = [session_id]
        if gen is not None:
            sql += " and g.gen = ?"
            params.append(gen)
        row = self.conn.execute(sql + " order by g.gen desc limit 1", params).fetchone()
        return (row[0], row[1], self.archive_dir / row[2]) if row else None

    def offset_of_line(self, session_id: str, lineno: int) -> int | None:
        """Byte offset of the first line numbered ``lineno`` or later in the
        session's newest generation, or None."""
        found = self._generation_of(session_id, None)
        if found is None:
            return None
        base = found[0] << OFFSET_BITS
        row = self.conn.execute("select id from lines where id >= ? and id < ? and lineno >= ? order by id limit 1",
                                (base, base + (1 << OFFSET_BITS), int(lineno))).fetchone()
        return None if row is None else row[0] - base

    def line_page(self, session_id: str, *, gen: int | None = None, after: int | None = None,
                  before: int | None = None, limit: int = 200) -> LinePage | None:
        """Lines of one generation in file order: after byte offset ``after``, or
        the ``limit`` lines before offset ``before``.  Each carries its parsed
        JSON (``obj``) or, for a malformed or huge line, its text (``raw``)."""
        found = self._generation_of(session_id, gen)
        if found is None:
            return None
        gen_id, gen_no, apath = found
        base = gen_id << OFFSET_BITS
        # Offsets live in the low OFFSET_BITS of a line id: a larger one would
        # reach into the next generation's lines.
        if before is not None:
            before = max(0, min(before, 1 << OFFSET_BITS))
        if after is not None and after >= (1 << OFFSET_BITS) - 1:
            return LinePage(gen_no, [], after=None, before=None)
        cols = ", ".join(LINE_COLS)
        if before is not None:
            rows = self.conn.execute(f"select {cols} from lines where id >= ? and id < ? order by id desc limit ?",
                                     (base, base + before, limit + 1)).fetchall()
            more_before = len(rows) > limit
            rows = rows[:limit][::-1]
            more_after = True
        else:
            start = base + max(after + 1, 0) if after is not None else base
            rows = self.conn.execute(f"select {cols} from lines where id >= ? and id < ? order by id limit ?",
                                     (start, base + (1 << OFFSET_BITS), limit + 1)).fetchall()
            more_after = len(rows) > limit
            rows = rows[:limit]
            more_before = after is not None and after >= 0
        items = []
        fd = os.open(apath, os.O_RDONLY) if apath.exists() and rows else None
        try:
            for row in rows:
                items.append(_line_json(gen_no, row, fd))
        finally:
            if fd is not None:
                os.close(fd)
        offsets = [split_line_id(r[0])[1] for r in rows]
        return LinePage(
            gen_no, items,
            after=offsets[-1] if rows and more_after else None,
            before=offsets[0] if rows and more_before else None,
        )

    def branches(self, session_id: str, gen: int | None = None) -> list[dict] | None:
        """Where the conversation forks (see branches.forks), or None if no such session."""
        found = self._generation_of(session_id, gen)
        if found is None:
            return None
        gen_id, _, apath = found
        base = gen_id << OFFSET_BITS
        rows = self.conn.execute(
            "select id, length, uuid, parent_uuid, type, ts from lines where id >= ? and id < ? and uuid is not null"
            " order by id", (base, base + (1 << OFFSET_BITS))).fetchall()
        nodes, lengths = [], {}
        for lid, length, uuid, parent, typ, ts in rows:
            offset = lid - base
            lengths[offset] = length
            nodes.append(Node(offset, uuid, parent, typ, ts))
        if not apath.exists():
            return []
        with open(apath, "rb") as f:
            return forks(nodes, lambda n: os.pread(f.fileno(), min(lengths[n.offset], LINE_SEND_CAP), n.offset))
