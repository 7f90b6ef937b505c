"""Split a stream of appended bytes into lines for the writer.

Bytes arrive in chunks that may end anywhere (mid-line, mid UTF-8 sequence);
only newline-ended lines are indexed, the unfinished tail waits here for the
rest.  Blank lines are counted (line numbers stay true) but get no row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .parse import Line, parse_line


@dataclass
class Batch:
    lines: list[Line] = field(default_factory=list)
    indexed: int = 0  # offset just past the last newline seen
    lineno: int = 0  # newline-ended lines so far in the file
    partial: Line | None = None  # the unfinished last line, if not blank


class LineFeeder:
    def __init__(self, indexed: int, lineno: int):
        self.indexed = indexed
        self.lineno = lineno
        self.tail = bytearray()

    def feed(self, data: bytes) -> Batch:
        tail = self.tail
        tail += data
        end = tail.rfind(b"\n")
        batch = Batch()
        if end >= 0:
            block = bytes(tail[: end + 1])
            del tail[: end + 1]
            lines = batch.lines
            offset, lineno = self.indexed, self.lineno
            for raw in block.split(b"\n")[:-1]:
                lineno += 1
                if raw and not raw.isspace():
                    lines.append(parse_line(raw, offset, lineno))
                offset += len(raw) + 1
            self.indexed, self.lineno = offset, lineno
        batch.indexed, batch.lineno = self.indexed, self.lineno
        if tail and not tail.isspace():
            partial = parse_line(bytes(tail), self.indexed, self.lineno + 1)
            partial.partial = 1
            batch.partial = partial
        return batch
