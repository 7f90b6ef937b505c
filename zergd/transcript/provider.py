"""The face every agent's module shows (``transcript/claude.py``,
``transcript/codex.py``): where its files live, what a file's path says
about its session, what a line means, how it is read as a conversation and
how the agent resumes it.  Pure: nothing here reads a file."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .conversation import Conversation
from .line import Line

UUID_TAIL = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


@dataclass(frozen=True)
class SourceInfo:
    """What the path alone tells about a transcript file."""

    provider: str
    rel: str  # POSIX path relative to the provider's root, e.g. "proj/uuid.jsonl"
    session_id: str  # see ``Provider.session_id``; qualified further only for a copied file
    project_dir: str | None
    parent_session_id: str | None  # known from the path for the subagent layouts that nest
    agent_id: str | None


def path_digest(provider: str, rel: str) -> str:
    return hashlib.sha1(f"{provider}/{rel}".encode()).hexdigest()[:8]


class Provider:
    """One agent.  A subclass sets the class attributes and implements
    ``claims``, ``parse`` and ``feed``; the rest has sensible defaults."""

    name = ""  # the archive's folder and the index's provider column: never changes
    label = ""  # as people call it
    speaker = ""  # how its turns are headed in a transcript ("Claude")
    resume = ""  # the command that resumes session {id}, if it can be resumed
    env = ""  # the environment variable that names its folder (its own, where it has one)
    setting = ""  # the config.toml key that does the same
    home = ""  # its folder under the home directory when neither is set
    roots: tuple[str, ...] = ()  # folders of transcripts under its folder; new sessions go in the first
    # A file under its folder where it keeps every prompt typed, whatever
    # became of the sessions (read by ``parse`` like a transcript's lines;
    # the prompts of a session whose transcript is gone are recovered from it).
    history = ""
    vendor = ""  # whose prices its models have (prices.json)
    moves = False  # a session's file may move from one root to another, keeping its name
    usage_windows = False  # its plans meter usage in 5-hour windows
    optional = True  # many people never run it: a missing folder is no warning

    def default_dir(self) -> Path:
        return Path.home() / self.home

    def session_id(self, rel: str) -> str:
        """A session's id, a function of its source alone: the same after a
        reindex, in any import order and on any machine."""
        stem = PurePosixPath(rel).stem
        m = UUID_TAIL.search(stem)
        return m.group(1) if m else stem

    def describe(self, rel: str) -> SourceInfo:
        return SourceInfo(self.name, rel, self.session_id(rel), None, None, None)

    def is_history(self, rel: str) -> bool:
        """Whether ``rel`` (relative to the agent's folder) is its prompt history."""
        return bool(self.history) and rel == self.history

    def session_folder(self, rel: str) -> str | None:
        """The folder (relative to the root) where the session whose
        transcript is ``rel`` keeps its own files, if the agent keeps any."""
        return None

    def claims(self, obj: dict) -> bool:
        """Whether a JSON line is this agent's (lines are read without
        knowing their file: the index re-derives text from archived bytes)."""
        raise NotImplementedError

    def parse(self, obj: dict, line: Line) -> None:
        """Fill ``line`` from the JSON object written on it."""
        raise NotImplementedError

    def unknown_kinds(self, obj: dict) -> tuple[str, ...]:
        """The kinds in a line (its type, subtype, item or tool) this module
        does not know: the line is kept and shown raw all the same, and
        counted, so a format change is seen the day it ships."""
        return ()

    def version_of(self, obj: dict) -> str | None:
        """The agent's version, where a line names it."""
        return None

    def feed(self, obj: dict, conversation: Conversation) -> None:
        """Add what the line says to the conversation being read."""
        raise NotImplementedError

    def resume_command(self, session_id: str) -> str | None:
        return self.resume.replace("{id}", session_id) if self.resume else None

    def facts(self) -> dict:
        """What the Timeline's page is told about this agent."""
        return {"label": self.label, "speaker": self.speaker, "resume": self.resume, "env": self.env,
                "setting": self.setting, "usage_windows": self.usage_windows}
