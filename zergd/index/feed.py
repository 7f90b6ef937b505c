"""Split a stream of appended bytes into lines for the writer.

Bytes arrive in chunks that may end anywhere (mid-line, mid UTF-8 sequence);
only newline-ended lines are indexed, the unfinished tail waits here for the
rest.  Blank lines are counted (line numbers stay true) but get no row.

Memory stays bounded whatever a file holds: an unfinished line longer than
TAIL_CAP is not kept here (a 1 GB file without a newline would otherwise be
held whole); its bytes are already in the archive, and ``reread`` fetches the
line from there once its newline arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..transcript.line import Line
from .parse import needed_bytes, parse_line

TAIL_CAP = 8 << 20
# An unfinished line is shown as a partial row parsed from at most this much
# (it is re-read whole once complete).
PARTIAL_PARSE_CAP = 1 << 20


@dataclass
class Batch:
    lines: list[Line] = field(default_factory=list)
    indexed: int = 0  # offset just past the last newline seen
    lineno: int = 0  # newline-ended lines so far in the file
    partial: Line | None = None  # the unfinished last line, if not blank


class LineFeeder:
    def __init__(self, indexed: int, lineno: int, reread=None):
        """``reread(offset, length)`` returns archived bytes; needed only for
        lines longer than TAIL_CAP."""
        self.indexed = indexed
        self.lineno = lineno
        self.reread = reread
        self.tail = bytearray()
        self.tail_len = 0  # bytes of the unfinished line, held in ``tail`` or not
        self.head = b""  # its first PARTIAL_PARSE_CAP bytes, always held

    def feed(self, data: bytes) -> Batch:
        end = data.rfind(b"\n")
        batch = Batch()
        if end >= 0:
            first = data.find(b"\n")
            lines = batch.lines
            offset, lineno = self.indexed, self.lineno
            first_line_len = self.tail_len + first
            lineno += 1
            if first_line_len:
                raw = self._unfinished_line(data[:first], first_line_len)
                if not raw.isspace():
                    lines.append(parse_line(raw, offset, lineno, first_line_len))
            offset += first_line_len + 1
            if end > first:
                for raw in data[first + 1 : end + 1].split(b"\n")[:-1]:
                    lineno += 1
                    if raw and not raw.isspace():
                        lines.append(parse_line(raw, offset, lineno))
                    offset += len(raw) + 1
            self.indexed, self.lineno = offset, lineno
            self.tail = bytearray()
            self.tail_len = 0
            self.head = b""
            self._grow(data[end + 1 :])
        else:
            self._grow(data)
        batch.indexed, batch.lineno = self.indexed, self.lineno
        if self.tail_len:
            prefix = bytes(self.tail) if self.tail_len <= PARTIAL_PARSE_CAP else self.head
            if prefix and not prefix.isspace():
                partial = parse_line(prefix, self.indexed, self.lineno + 1, self.tail_len)
                partial.partial = 1
                batch.partial = partial
        return batch

    def _grow(self, data: bytes) -> None:
        if not data:
            return
        if len(self.head) < PARTIAL_PARSE_CAP:
            self.head += data[: PARTIAL_PARSE_CAP - len(self.head)]
        if self.reread is not None and self.tail_len + len(data) > TAIL_CAP:
            self.tail = bytearray()  # dropped: read back from the archive when complete
        else:
            self.tail += data
        self.tail_len += len(data)

    def _unfinished_line(self, rest: bytes, length: int) -> bytes:
        """The whole line that ends in this chunk: held bytes plus ``rest``,
        or (for a long one) its start read back from the archive."""
        if len(self.tail) == self.tail_len:
            return bytes(self.tail) + rest if self.tail else rest
        want = needed_bytes(length)
        if want < length:
            return self.reread(self.indexed, want)
        return self.reread(self.indexed, length)
