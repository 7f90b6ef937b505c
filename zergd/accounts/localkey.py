"""The key the CLI on the server itself signs in with: ``ZERG_HOME/local.key``
(mode 600), sent as the ``X-Zerg-Local`` header.  Anyone who can read it can
read the archive beside it anyway."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

LOCAL_HEADER = "x-zerg-local"
LOCAL_KEY = "local.key"


def local_key(home: Path, *, create: bool = False) -> str | None:
    """The key, made (``create``) if there is none yet; None if there is none."""
    path = home / LOCAL_KEY
    try:
        key = path.read_text("ascii").strip()
        if key:
            return key
    except (OSError, UnicodeDecodeError):
        pass
    if not create:
        return None
    key = secrets.token_urlsafe(32)
    home.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(LOCAL_KEY + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    os.replace(tmp, path)
    return key
