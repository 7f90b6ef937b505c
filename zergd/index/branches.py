"""Where a Claude Code conversation forks.  Each message names its parent
(``parentUuid``); rewinding or editing an earlier prompt starts a second child
under the same parent, and the file then holds both branches.  Not every
second child is a fork: parallel tool calls hang their results off the call
while the next call follows it, and bash-mode input re-parents to the line
before.  A fork is a parent with two or more children that are each a typed
prompt or a separate model reply."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from ..transcript.claude import is_real_prompt
from ..transcript.line import title_of


@dataclass
class Node:
    offset: int
    uuid: str | None
    parent: str | None
    type: str | None
    ts: str | None


def forks(nodes: list[Node], read: Callable[[Node], bytes]) -> list[dict]:
    """The forks in file order, each with its branches (newest last).  ``read``
    gives a line's bytes; only the children of candidate parents are read."""
    by_uuid: dict[str, Node] = {}
    children: dict[str, list[Node]] = defaultdict(list)
    for n in nodes:
        if n.uuid and n.uuid not in by_uuid:  # uuids can repeat (a /clear copies one line): first wins
            by_uuid[n.uuid] = n
            if n.parent:
                children[n.parent].append(n)
    found = []
    for parent_uuid, kids in children.items():
        candidates = [k for k in kids if k.type in ("user", "assistant")]
        if len(candidates) < 2 or parent_uuid not in by_uuid:
            continue
        starts, seen_replies = [], set()
        for kid in candidates:
            kind, key = _branch_start(read(kid))
            if kind == "reply" and key in seen_replies:
                continue  # another content block of the same API response
            if kind:
                seen_replies.add(key)
                starts.append((kid, key if kind == "prompt" else None))
        if len(starts) < 2:
            continue
        branches = []
        for kid, preview in starts:
            offsets = _subtree(kid, children)
            branches.append({"start": kid.offset, "last": offsets[-1], "lines": len(offsets), "ts": kid.ts,
                             "preview": preview, "offsets": offsets})
        branches.sort(key=lambda b: b["last"])
        branches[-1]["latest"] = True
        found.append({"at": by_uuid[parent_uuid].offset, "branches": branches})
    found.sort(key=lambda f: f["at"])
    return found


def _subtree(root: Node, children: dict[str, list[Node]]) -> list[int]:
    out, stack, seen = [], [root], set()
    while stack:
        n = stack.pop()
        if n.offset in seen:  # a hand-made file can hold a cycle
            continue
        seen.add(n.offset)
        out.append(n.offset)
        stack.extend(children.get(n.uuid, ()) if n.uuid else ())
    return sorted(out)


def _branch_start(raw: bytes) -> tuple[str | None, str | None]:
    """("prompt", its text) for a typed prompt, ("reply", message id) for a
    model reply, (None, None) for anything else (tool results, bash input)."""
    try:
        obj = json.loads(raw)
    except ValueError:
        return None, None
    msg = obj.get("message") if isinstance(obj, dict) else None
    if not isinstance(msg, dict):
        return None, None
    if msg.get("role") == "assistant":
        return "reply", str(msg.get("id") or obj.get("uuid"))
    content = msg.get("content")
    parts = [content] if isinstance(content, str) else [
        b["text"] for b in content or [] if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)]
    if parts and is_real_prompt(obj, parts):
        return "prompt", title_of("\n".join(parts))
    return None, None
