"""A transcript as a conversation to read: user turns, assistant turns (each
tool call with its result inside) and dividers.  Each provider feeds its own
lines into a ``Conversation``; the Markdown/HTML document renders it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .vocabulary import is_persisted_output

IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


@dataclass
class Tool:
    name: str
    input: object
    result: str | None = None
    error: bool = False
    images: list = field(default_factory=list)


@dataclass
class Part:
    kind: str  # text, thinking, tool, image, context, notice
    text: str = ""
    tool: Tool | None = None
    image: tuple[str, str] | None = None  # (media type, base64 data)


@dataclass
class Turn:
    role: str  # user, assistant, divider
    ts: str | None = None
    model: str | None = None
    parts: list[Part] = field(default_factory=list)


class Conversation:
    """Turns as they are fed, line by line."""

    def __init__(self, tool_output=None):
        self.turns: list[Turn] = []
        self.calls: dict[str, Tool] = {}
        # tool use id -> the full output the agent kept apart (or None); see session_files.py
        self.tool_output = tool_output

    def current(self, role: str, ts, model=None) -> Turn:
        """The turn a part of ``role`` goes into: the last one when it is of
        that role (a user line always starts a turn of its own)."""
        if not self.turns or self.turns[-1].role != role or role == "user":
            self.turns.append(Turn(role, ts, model))
        turn = self.turns[-1]
        turn.model = turn.model or model
        return turn

    def divider(self, ts, text: str) -> None:
        self.turns.append(Turn("divider", ts, parts=[Part("text", text)]))

    def call(self, call_id, tool: Tool, ts) -> None:
        if isinstance(call_id, str):
            self.calls[call_id] = tool
        self.current("assistant", ts).parts.append(Part("tool", tool=tool))

    def result(self, call_id, text: str, error: bool, images=()) -> None:
        if self.tool_output is not None and is_persisted_output(text):
            text = self.tool_output(call_id) or text
        tool = self.calls.get(call_id) if isinstance(call_id, str) else None
        if tool is None:  # its call is not in this file: show it alone
            tool = Tool("tool result", None)
            self.current("assistant", None).parts.append(Part("tool", tool=tool))
        tool.result, tool.error = text, error
        tool.images.extend(images)

    def finished(self) -> list[Turn]:
        return [t for t in self.turns if t.parts]


def image_of(block: dict):
    """(media type, base64 data) of an image block in a form a page can show."""
    src = block.get("source") or {}
    if src.get("type") == "base64" and src.get("media_type") in IMAGE_TYPES and isinstance(src.get("data"), str):
        return (src["media_type"], src["data"])
    return None
