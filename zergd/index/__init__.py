"""The index: everything the archive knows, searchable.  Its face is
``open_index(settings)`` -> ``Index`` (a ``writer()`` and ``reader()``s), and
the dataclasses they speak; see store.py."""

from .filters import SessionFilter, parse_when
from .lines import LinePage
from .reader import Reader
from .search import HIGHLIGHT, Hit, snippet_parts
from .store import Index, open_index
from .writer import Writer

__all__ = ["HIGHLIGHT", "Hit", "Index", "LinePage", "Reader", "SessionFilter", "Writer", "open_index", "parse_when",
           "snippet_parts"]
