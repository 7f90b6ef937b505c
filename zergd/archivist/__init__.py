"""The archivist: one object per source that appends (fsync), commits,
seals and reconciles (``Archivist``), for local files and shipped bytes
alike; and rebuilding the index from the archive alone (``rebuild``)."""

from .source import Appender, Archivist

__all__ = ["Appender", "Archivist"]
