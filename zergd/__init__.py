"""zergd: keep every Claude Code and Codex session, byte for byte, searchable forever."""

__version__ = "0.1.0"
