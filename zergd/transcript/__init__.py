"""What a transcript means, pure and without I/O: one module per agent
behind one ``Provider`` face (provider.py), the line every reader takes
(line.py), the conversation a document renders (conversation.py) and the
words the agents write (vocabulary.py, which the Timeline's render.js is
held to by tests/test_vocabulary.py).

Adding an agent: its module (a ``Provider`` subclass and ``PROVIDER``), its
fixtures, and one entry in ``AGENTS`` below."""

from __future__ import annotations

from . import claude, codex, vocabulary
from .provider import Provider, SourceInfo

# The registry.  Lines are told apart by what they hold, in this order;
# Claude Code's, the oldest format, takes whatever no other claims.
AGENTS: tuple[Provider, ...] = (codex.PROVIDER, claude.PROVIDER)

PROVIDERS: dict[str, Provider] = {p.name: p for p in sorted(AGENTS, key=lambda p: p.name)}
NAMES: tuple[str, ...] = tuple(PROVIDERS)


def provider(name: str) -> Provider:
    """The agent named ``name``; KeyError for one this zergd does not know."""
    return PROVIDERS[name]


def for_line(obj: dict) -> Provider:
    for agent in AGENTS:
        if agent.claims(obj):
            return agent
    return claude.PROVIDER


def describe(provider_name: str, rel: str) -> SourceInfo:
    """What a source's path says about it.  An agent this zergd does not
    know (an archive made by a newer one) keeps its file's name as the id."""
    known = PROVIDERS.get(provider_name)
    return (known or _Unknown(provider_name)).describe(rel)


def page_facts() -> dict:
    """Every agent's facts and the shared vocabulary, for the Timeline's page."""
    return {"agents": {name: agent.facts() for name, agent in PROVIDERS.items()},
            "vocabulary": {"codex_context": vocabulary.CODEX_CONTEXT, "claude_not_typed": vocabulary.CLAUDE_NOT_TYPED,
                           "codex_items": sorted(vocabulary.CODEX_ITEMS), "codex_calls": vocabulary.CODEX_CALLS,
                           "codex_outputs": vocabulary.CODEX_OUTPUTS,
                           "persisted_output": vocabulary.PERSISTED_OUTPUT,
                           "codex_turn_tools": vocabulary.CODEX_TURN_TOOLS}}


class _Unknown(Provider):
    def __init__(self, name: str):
        self.name = name


__all__ = ["AGENTS", "NAMES", "PROVIDERS", "Provider", "SourceInfo", "describe", "for_line", "page_facts", "provider"]
