"""The errors zergd raises on purpose, each with the HTTP status it means.

The CLI prints their message on one line and exits non-zero; the API maps
them to a 4xx with ``{"detail": message}`` in one handler (api/app.py).
Anything else reaching a user is a bug.
"""

from __future__ import annotations


class ZergError(Exception):
    status = 500


class BadQuery(ZergError, ValueError):
    """A parameter the caller got wrong; the message says how."""

    status = 400


class UnsafePath(BadQuery):
    """A relative path that would escape the archive."""


class NotFound(ZergError, LookupError):
    """No such session (or generation, or thread); ``candidates`` lists the
    ids an ambiguous prefix fits."""

    status = 404

    def __init__(self, message: str, candidates: list[str] | None = None):
        super().__init__(message)
        self.candidates = candidates or []


class ArchiveDamaged(ZergError):
    """The archive does not hold what the index recorded (fewer bytes, a file
    gone or unreadable): something other than zergd changed it.  Reported,
    never papered over."""

    status = 409


class NotReady(ZergError):
    """Cannot answer yet: the index is still being created, or chat is not set up."""

    status = 503


class IndexUnavailable(ZergError):
    """The index refused a write or a read (disk full, locked, its server
    gone): the transaction was rolled back and nothing is lost - archived
    bytes are adopted on the next pass.  ``transient``: it passes by itself."""

    status = 503

    def __init__(self, message: str, transient: bool = True):
        super().__init__(message)
        self.transient = transient
