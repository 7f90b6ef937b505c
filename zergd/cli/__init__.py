"""Command line: ``zergd`` runs the archive (the daemon, import, reindex,
tokens, users), ``zerg`` reads it (sessions, search, export, stats, ship,
mcp).  Each command is a few lines over the library; what they share is in
base.py, one module per area beside it."""

from . import accounts, archive, daemon, read, ship  # noqa: F401  (each registers its commands)
from .base import zerg, zergd

__all__ = ["zerg", "zergd"]
