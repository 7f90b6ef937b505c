"""The ``zerg`` command's entry point: ``zerg statusline`` runs on every
prompt Claude Code shows, so it starts without the CLI (click, the index,
the price table: 0.2 s of imports); everything else is the CLI."""

from __future__ import annotations

import sys


def zerg() -> None:
    if sys.argv[1:2] == ["statusline"] and len(sys.argv) == 2:
        from .statusline import main

        sys.exit(main())
    from .cli import zerg as cli

    cli()
