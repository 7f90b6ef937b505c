"""Oikos: ask questions about your past sessions.  Needs the ``chat`` extra
(langgraph, langgraph-checkpoint-sqlite, anthropic) and an Anthropic API key;
without them everything else in zergd works and ``chat_status`` says how to
enable chat."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

from ..config import Settings

DEFAULT_MODEL = "claude-sonnet-5-5"
EXTRA_MODULES = ("anthropic", "langgraph", "langgraph.checkpoint.sqlite")


@dataclass
class ChatConfig:
    api_key: str | None
    base_url: str | None
    model: str
    max_retries: int = 2


def chat_config(settings: Settings) -> ChatConfig:
    opts = settings.options
    return ChatConfig(
        api_key=os.environ.get("ANTHROPIC_API_KEY") or opts.get("anthropic_api_key"),
        base_url=os.environ.get("ANTHROPIC_BASE_URL") or opts.get("anthropic_base_url"),
        model=os.environ.get("ZERG_CHAT_MODEL") or opts.get("chat_model") or DEFAULT_MODEL,
        max_retries=int(opts.get("chat_max_retries", 2)),
    )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def chat_status(settings: Settings) -> dict:
    """Whether chat can run here, and if not, exactly how to enable it."""
    missing = [m for m in EXTRA_MODULES if not _installed(m)]
    cfg = chat_config(settings)
    if missing:
        return {"available": False, "reason": "missing_extra", "model": cfg.model,
                "message": "Chat needs the chat extra, which is not installed "
                           f"(missing: {', '.join(missing)}). Install it with: pip install 'zergd[chat]' "
                           "and restart zergd (zergd stop && zergd start)."}
    if not cfg.api_key:
        return {"available": False, "reason": "missing_key", "model": cfg.model,
                "message": "Chat needs an Anthropic API key. Set ANTHROPIC_API_KEY in the daemon's environment, "
                           f"or add anthropic_api_key = \"sk-ant-…\" to {settings.home / 'config.toml'}, "
                           "then restart zergd (zergd stop && zergd start)."}
    return {"available": True, "reason": None, "model": cfg.model, "message": f"Chat uses {cfg.model}."}
