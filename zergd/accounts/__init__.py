"""Who may read and write what on a zergd that others reach (the team server).

Users, their sign-ins, what they share and the audit of reads live in
``ZERG_HOME/accounts.db``, beside the archive and never in the index: the
index can be deleted and rebuilt from the archive, accounts cannot.

A daemon bound to loopback with no public URL serves one person: nobody signs
in and every session is theirs (``Scope.everything``)."""

from .names import fold, same_name
from ..index.scope import Scope
from .store import AccountError, Accounts, User

__all__ = ["AccountError", "Accounts", "Scope", "User", "fold", "same_name"]
