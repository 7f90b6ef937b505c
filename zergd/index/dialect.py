"""Where the SQL of the two backends differs, and nothing else: the queries
themselves are written once (reader.py, writer.py) with ``?`` parameters."""

from __future__ import annotations

from dataclasses import dataclass

# A line's id packs where it lives: generation id in the high bits, byte
# offset in the archive file in the low 40 (files up to 1 TiB).  Only
# zergd.index packs and unpacks it.
OFFSET_BITS = 40
OFFSET_MASK = (1 << OFFSET_BITS) - 1


def line_id(generation_id: int, offset: int) -> int:
    return (generation_id << OFFSET_BITS) | offset


def split_line_id(lid: int) -> tuple[int, int]:
    return lid >> OFFSET_BITS, lid & OFFSET_MASK


# --- SQL fragments both backends share, each written once ----------------------


def generation_of(line_id_col: str) -> str:
    """The generation id packed into a line id column (see ``line_id``)."""
    return f"({line_id_col} >> {OFFSET_BITS})"


def offset_of(line_id_col: str) -> str:
    """The byte offset packed into a line id column."""
    return f"({line_id_col} & {OFFSET_MASK})"


def is_newest_generation(gen_col: str, source_col: str) -> str:
    """True where ``gen_col`` is the newest generation of the source ``source_col``."""
    return f"{gen_col} = (select max(gen) from generations where source_id = {source_col})"


# LIKE with a pattern made by ``like_pattern``: its text matched as written.
LIKE_ESCAPE = "escape '\\'"


def like_pattern(text: str, *, prefix: bool = False) -> str:
    """A LIKE pattern finding ``text`` as written (``%`` and ``_`` in it are
    not wildcards) anywhere, or at the start with ``prefix``."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%" if prefix else "%" + escaped + "%"


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" or "postgresql"
    begin: str  # opens the writer's transaction
    greatest: str  # the two-argument maximum
    ilike: str  # case-insensitive LIKE
    json_has: str  # "{col} (a JSON list) holds ?"
    returning: bool = False  # new ids come back by "returning id" (else the cursor's lastrowid)

    def has_model(self, col: str) -> str:
        return self.json_has.format(col=col)


SQLITE = Dialect("sqlite", begin="begin immediate", greatest="max", ilike="like",
                 json_has="exists (select 1 from json_each({col}) where value = ?)")
POSTGRES = Dialect("postgresql", begin="begin", greatest="greatest", ilike="ilike",
                   json_has="exists (select 1 from json_array_elements_text({col}::json) m(value) where m.value = ?)",
                   returning=True)
