"""One way to compare the names people and machines go by: Unicode NFC, then
case folding.  ``Laptop``, ``LAPTOP`` and a decomposed ``Lаptop`` spelled the
same after normalisation are one name: on a case-insensitive disk they are
one archive folder, so they must be one owner too."""

from __future__ import annotations

import re
import unicodedata

# A user's name: what `zergd user add` takes and a sign-in matches.
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


def fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def same_name(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and fold(a) == fold(b)


def check_user_name(name: str) -> str:
    """The name as given, if it is one; ValueError saying what a name is."""
    if not isinstance(name, str) or not USER_NAME.fullmatch(name):
        raise ValueError("a user name is 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit")
    return name
