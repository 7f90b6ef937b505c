"""A session as a document to read or pass on: Markdown, or one self-contained
HTML file (inline CSS, no script, nothing fetched).  Built from the archived
bytes of one generation, turn by turn, with each tool call's result under the
call, the way the Timeline shows it.  Bookkeeping lines are left out; the
JSONL export keeps every byte."""

from __future__ import annotations

import difflib
import html
import json
import re
from collections.abc import Iterable, Iterator

from .transcript import PROVIDERS, for_line
from .transcript.conversation import Conversation, Part, Tool, Turn


def turns(lines: Iterable[bytes], tool_output=None) -> list[Turn]:
    """The conversation in the lines: user turns, assistant turns (tool calls
    with their results inside) and dividers (compaction, summaries), each
    line read by the agent that wrote it.  ``tool_output(tool_use_id)``: the
    full output of a result the transcript keeps only a preview of."""
    conversation = Conversation(tool_output)
    for raw in lines:
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if isinstance(obj, dict):
            for_line(obj).feed(obj, conversation)
    return conversation.finished()


# --- what a tool call says, for both formats ----------------------------------


def tool_view(tool: Tool) -> tuple[str, str, str]:
    """(headline, body, body language) of a tool call: the command for Bash,
    a diff for edits, the file for Write, key: value lines for the rest."""
    inp = tool.input if isinstance(tool.input, dict) else {}
    name = tool.name
    if name in ("Bash", "shell", "exec_command", "local_shell_call") or "command" in inp and len(inp) <= 4:
        cmd = inp.get("command") or inp.get("cmd")
        if isinstance(cmd, list):
            cmd = " ".join(map(str, cmd[2:] if cmd[:2] in (["bash", "-lc"], ["bash", "-c"]) else cmd))
        return f"{name}: {inp.get('description') or ''}".rstrip(": "), str(cmd or ""), "sh"
    if name in ("Edit", "MultiEdit") and isinstance(inp.get("file_path"), str):
        edits = inp.get("edits") if name == "MultiEdit" else [inp]
        diff = []
        for e in edits if isinstance(edits, list) else []:
            if isinstance(e, dict):
                diff += difflib.unified_diff(str(e.get("old_string") or "").splitlines(),
                                             str(e.get("new_string") or "").splitlines(), lineterm="", n=2)
        return f"{name} {inp['file_path']}", "\n".join(line for line in diff if not line.startswith(("---", "+++"))), "diff"
    if name == "Write" and isinstance(inp.get("file_path"), str):
        return f"Write {inp['file_path']}", str(inp.get("content") or ""), ""
    if name == "Read" and isinstance(inp.get("file_path"), str):
        return f"Read {inp['file_path']}", "", ""
    if name == "TodoWrite" and isinstance(inp.get("todos"), list):
        marks = {"completed": "[x]", "in_progress": "[~]"}
        return "Todo list", "\n".join(f"- {marks.get(t.get('status'), '[ ]')} {t.get('content', '')}"
                                      for t in inp["todos"] if isinstance(t, dict)), "md"
    if name in ("Task", "Agent"):
        return f"{name}: {inp.get('description') or ''}", str(inp.get("prompt") or ""), ""
    if name in ("WebFetch", "WebSearch", "web_search", "web_search_call"):
        target = inp.get("url") or inp.get("query") or inp.get("action", {})
        return f"{name} {target if isinstance(target, str) else json.dumps(target)}", str(inp.get("prompt") or ""), ""
    if tool.input is None:
        return name, "", ""
    if not isinstance(tool.input, dict):
        return name, tool.input if isinstance(tool.input, str) else json.dumps(tool.input, indent=2), ""
    return name, "\n".join(f"{k}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in inp.items()), ""


def _lines(text: str) -> str:
    n = len(text.splitlines())
    return f"{n:,} line{'' if n == 1 else 's'}"


# --- Markdown -------------------------------------------------------------------


BASE64 = re.compile(r"[A-Za-z0-9+/=]*")
# Transcript text is whatever anyone wrote: in Markdown it must stay text.
# HTML is escaped, link and image brackets are escaped (no [x](javascript:…)
# or ![](https://tracker…) forms), and web addresses go in code spans, which
# no renderer turns into links.
URL = re.compile(r"(?:https?|ftp)://[^\s<>`]+|www\.[^\s<>`]+", re.IGNORECASE)
MD_SPECIAL = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "\\[", "]": "\\]"}
MD_SPECIAL_RE = re.compile("[&<>\\[\\]]")


def md_text(text) -> str:
    """Text from a transcript, safe in a Markdown document."""
    out, pos = [], 0
    text = str(text)
    for m in URL.finditer(text):
        out.append(MD_SPECIAL_RE.sub(lambda c: MD_SPECIAL[c.group()], text[pos:m.start()]))
        out.append(f"`{m.group()}`")
        pos = m.end()
    out.append(MD_SPECIAL_RE.sub(lambda c: MD_SPECIAL[c.group()], text[pos:]))
    return "".join(out)


CHECK = re.compile(r"(- \[[ x~]\] )(.*)")


def _md_checklist(body: str) -> str:
    """A checklist of ours (tool_view's TodoWrite) with the transcript's items inert."""
    lines = []
    for line in body.splitlines():
        m = CHECK.fullmatch(line)
        lines.append(m[1] + md_text(m[2]) if m else md_text(line))
    return "\n".join(lines)


def _fence(text: str, lang: str = "") -> str:
    ticks = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _facts(session: dict) -> list[tuple[str, str]]:
    tokens = sum(session.get(k) or 0 for k in ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"))
    facts = [("Session", session["id"]), ("Agent", PROVIDERS[session["provider"]].label if session["provider"] in PROVIDERS else session["provider"]),
             ("Project", session.get("project") or session.get("project_dir") or ""), ("Branch", session.get("git_branch") or ""),
             ("Models", ", ".join(session.get("models") or [])),
             ("Time", " – ".join(x for x in (session.get("first_ts"), session.get("last_ts")) if x)),
             ("Tokens", f"{tokens:,} (input {session.get('input_tokens') or 0:,}, output {session.get('output_tokens') or 0:,}, "
                        f"cache write {session.get('cache_creation_tokens') or 0:,}, cache read {session.get('cache_read_tokens') or 0:,})"
              if tokens else "")]
    return [(k, v) for k, v in facts if v]


def markdown(session: dict, lines: Iterable[bytes], tool_output=None) -> Iterator[str]:
    yield f"# {md_text(session.get('agent_description') or session.get('title') or session['id'])}\n\n"
    for key, value in _facts(session):
        yield f"- **{key}:** {md_text(value)}\n"
    for turn in turns(lines, tool_output):
        if turn.role == "divider":
            yield "\n---\n\n" + "".join(f"*{md_text(p.text)}*\n" if p.kind == "text" else
                                        f"\n<details><summary>What was carried over</summary>\n\n{md_text(p.text)}"
                                        "\n\n</details>\n" for p in turn.parts)
            continue
        who = "User" if turn.role == "user" else f"Assistant{f' ({md_text(turn.model)})' if turn.model else ''}"
        yield f"\n## {who}{f' · {md_text(turn.ts)}' if turn.ts else ''}\n\n"
        for p in turn.parts:
            yield _md_part(p) + "\n\n"


def _md_part(p: Part) -> str:
    if p.kind == "text":
        return md_text(p.text.strip())
    if p.kind == "thinking":
        return "<details><summary>Thinking</summary>\n\n" + md_text(p.text.strip()) + "\n\n</details>"
    if p.kind in ("context", "notice"):
        return "> " + md_text(p.text.strip()).replace("\n", "\n> ")
    if p.kind == "image":
        return f"![image](data:{p.image[0]};base64,{p.image[1]})" if BASE64.fullmatch(p.image[1]) else \
            "*(an image whose data is not base64)*"
    head, body, lang = tool_view(p.tool)
    out = [f"**{md_text(head)}**"]
    if body:
        out.append(_md_checklist(body) if lang == "md" else _fence(body, lang))
    if p.tool.result is not None:
        label = "Error" if p.tool.error else "Result"
        out.append(f"<details><summary>{label} ({_lines(p.tool.result)})</summary>\n\n{_fence(p.tool.result)}\n\n</details>")
    return "\n\n".join(out)


# --- HTML ------------------------------------------------------------------------

CSS = """
:root{--bg:#fbfbfd;--fg:#1d1d24;--muted:#6b6b78;--line:#e4e4ec;--card:#fff;--code:#f3f3f7;--accent:#5b4bdb;--warn:#b3261e}
@media (prefers-color-scheme:dark){:root{--bg:#15151a;--fg:#e8e8ee;--muted:#9a9aab;--line:#2c2c36;--card:#1d1d24;--code:#23232c;--accent:#9d93ff}}
body{margin:0 auto;max-width:60rem;padding:1rem 1.2rem 4rem;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,sans-serif}
h1{font-size:1.4rem}dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem;color:var(--muted);font-size:.9rem}
dd{margin:0;word-break:break-all}section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.5rem .9rem;margin:.6rem 0}
section.user{border-left:4px solid #0b6bcb}.who{font-size:.8rem;font-weight:700;color:var(--muted);text-transform:uppercase}
.text{white-space:pre-wrap;word-break:break-word}pre{background:var(--code);padding:.5rem .7rem;border-radius:6px;overflow:auto;white-space:pre-wrap;word-break:break-word;font:13px/1.45 ui-monospace,Menlo,monospace}
details{margin:.3rem 0}summary{cursor:pointer;color:var(--muted)}.tool{border:1px solid var(--line);border-radius:8px;padding:.3rem .6rem;margin:.4rem 0}
.tool>b{font-family:ui-monospace,Menlo,monospace;font-size:.9rem}.error>summary{color:var(--warn)}.divider{text-align:center;color:var(--muted);border-top:1px dashed var(--line);margin:1rem 0;padding-top:.4rem}
.add{color:#1f8a4c}.del{color:var(--warn)}img{max-width:100%;border:1px solid var(--line);border-radius:6px}.notice{color:var(--muted);font-style:italic}
"""
# Even if something slipped past escaping, the file can run nothing and fetch nothing.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def html_document(session: dict, lines: Iterable[bytes], tool_output=None) -> Iterator[str]:
    title = session.get("agent_description") or session.get("title") or session["id"]
    yield (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
           f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>{_e(title)}</title><style>{CSS}</style></head><body>\n<h1>{_e(title)}</h1>\n<dl>")
    for key, value in _facts(session):
        yield f"<dt>{_e(key)}</dt><dd>{_e(value)}</dd>"
    yield "</dl>\n"
    for turn in turns(lines, tool_output):
        if turn.role == "divider":
            for p in turn.parts:
                yield (f'<div class="divider">{_e(p.text)}</div>\n' if p.kind == "text" else
                       f'<details><summary>What was carried over</summary><div class="text">{_e(p.text)}</div></details>\n')
            continue
        who = "User" if turn.role == "user" else f"Assistant{f' · {turn.model}' if turn.model else ''}"
        yield f'<section class="{turn.role}"><div class="who">{_e(who)}{f" · {_e(turn.ts)}" if turn.ts else ""}</div>\n'
        for p in turn.parts:
            yield _html_part(p) + "\n"
        yield "</section>\n"
    yield "<p class=\"notice\">Exported by zergd.</p></body></html>\n"


def _html_part(p: Part) -> str:
    if p.kind == "text":
        return f'<div class="text">{_e(p.text.strip())}</div>'
    if p.kind == "thinking":
        return f'<details><summary>Thinking</summary><div class="text">{_e(p.text.strip())}</div></details>'
    if p.kind in ("context", "notice"):
        return f'<div class="text notice">{_e(p.text.strip())}</div>'
    if p.kind == "image":
        return f'<img alt="image from the transcript" src="data:{p.image[0]};base64,{_e(p.image[1])}">'
    head, body, lang = tool_view(p.tool)
    out = [f'<div class="tool"><b>{_e(head)}</b>']
    if body:
        out.append(f"<pre>{_diff_html(body) if lang == 'diff' else _e(body)}</pre>")
    if p.tool.result is not None:
        out.append(f'<details class="{"error" if p.tool.error else "result"}"><summary>{"Error" if p.tool.error else "Result"}'
                   f" ({_lines(p.tool.result)})</summary><pre>{_e(p.tool.result)}</pre></details>")
    out.extend(f'<img alt="image from the tool" src="data:{m};base64,{_e(d)}">' for m, d in p.tool.images)
    out.append("</div>")
    return "".join(out)


def _diff_html(diff: str) -> str:
    def one(line: str) -> str:
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        return f'<span class="{cls}">{_e(line)}</span>' if cls else _e(line)
    return "\n".join(one(line) for line in diff.splitlines())
