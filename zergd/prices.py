"""What tokens cost, from the price table bundled with genai-prices (MIT,
maintained by Pydantic; read offline, never fetched at run time).

A model's rates are looked up once.  Anthropic bills a request whose input
(fresh + cache writes + cache reads) passes a model's long-context threshold
at the higher rate for all of its tokens, so each rate is (base, threshold,
rate above it); the index splits usage rows at the threshold in SQL and the
cost is the sums times the rates.  A model the table does not know has no
rates: its tokens are shown, its cost is "unknown", never guessed.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from decimal import Decimal
from importlib import metadata
from pathlib import Path

from .transcript import PROVIDERS

MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Rate:
    base: Decimal  # USD per token
    above: Decimal | None = None  # USD per token past the threshold


@dataclass(frozen=True)
class Rates:
    model: str  # the table's name for it
    threshold: int | None  # long-context threshold of input tokens, if any
    input: Rate
    output: Rate
    cache_write: Rate
    cache_write_1h: Rate
    cache_read: Rate
    web_search: Decimal  # USD per search

    def cost(self, sums: "TokenSums", long: bool) -> Decimal:
        """USD for ``sums`` of rows all below (or all past) the threshold."""
        def at(rate: Rate) -> Decimal:
            return rate.above if long and rate.above is not None else rate.base
        five_minute = sums.cache_creation - sums.cache_creation_1h
        return (sums.input * at(self.input) + sums.output * at(self.output) + five_minute * at(self.cache_write)
                + sums.cache_creation_1h * at(self.cache_write_1h) + sums.cache_read * at(self.cache_read)
                + sums.web_searches * self.web_search)


@dataclass
class TokenSums:
    input: int = 0
    output: int = 0
    cache_creation: int = 0  # all cache writes, the 1-hour ones included
    cache_creation_1h: int = 0
    cache_read: int = 0
    web_searches: int = 0


def _rate(value, threshold: int | None) -> tuple[Rate, int | None]:
    if value is None:
        return Rate(Decimal(0)), threshold
    tiers = getattr(value, "tiers", None)
    if tiers is None:
        return Rate(Decimal(value) / MILLION), threshold
    first = tiers[0]
    return Rate(Decimal(value.base) / MILLION, Decimal(first.price) / MILLION), threshold or int(first.start)


# Rates already looked up, kept in a small file (use_cache): importing the
# price table takes longer (~150 ms) than a whole `zerg stats` report.
_CACHE: dict[str, dict | None] = {}
_CACHE_PATH: Path | None = None


def use_cache(path: Path) -> None:
    """Keep looked-up rates in ``path`` (per genai-prices release) across runs."""
    global _CACHE_PATH
    _CACHE_PATH = path
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(stored, dict) and stored.get("version") == table_version() and isinstance(stored.get("rates"), dict):
        _CACHE.update(stored["rates"])


@functools.lru_cache(maxsize=512)
def rates(model: str | None, provider: str) -> Rates | None:
    """The model's rates, or None when the table does not know it."""
    if not model:
        return None
    key = f"{provider}\x00{model}"
    if key in _CACHE:
        return _from_json(_CACHE[key])
    found = _lookup(model, provider)
    _CACHE[key] = _to_json(found)
    if _CACHE_PATH is not None:
        try:  # written whole and renamed: a reader never sees half a file
            tmp = _CACHE_PATH.with_suffix(".tmp")
            tmp.write_text(json.dumps({"version": table_version(), "rates": _CACHE}))
            os.replace(tmp, _CACHE_PATH)
        except OSError:
            pass  # a read-only home: looked up again next time
    return found


def _to_json(r: Rates | None) -> dict | None:
    if r is None:
        return None
    rate = lambda x: [str(x.base), None if x.above is None else str(x.above)]  # noqa: E731
    return {"model": r.model, "threshold": r.threshold, "web_search": str(r.web_search),
            **{f: rate(getattr(r, f)) for f in ("input", "output", "cache_write", "cache_write_1h", "cache_read")}}


def _from_json(d: dict | None) -> Rates | None:
    if d is None:
        return None
    rate = lambda x: Rate(Decimal(x[0]), None if x[1] is None else Decimal(x[1]))  # noqa: E731
    return Rates(d["model"], d["threshold"], web_search=Decimal(d["web_search"]),
                 **{f: rate(d[f]) for f in ("input", "output", "cache_write", "cache_write_1h", "cache_read")})


def _lookup(model: str, provider: str) -> Rates | None:
    try:
        from genai_prices import Usage, calc_price

        vendor = PROVIDERS[provider].vendor if provider in PROVIDERS else provider
        found = calc_price(Usage(input_tokens=1), model_ref=model, provider_id=vendor)
    except (LookupError, ValueError, ImportError):
        return None
    mp = found.model_price
    threshold = None
    fields = {}
    for name, attr in (("input", "input_mtok"), ("output", "output_mtok"), ("cache_write", "cache_write_mtok"),
                       ("cache_read", "cache_read_mtok")):
        fields[name], threshold = _rate(getattr(mp, attr, None), threshold)
    # An hour's cache write is 2x input where the table has no price of its own for it.
    one_hour = getattr(mp, "cache_write_1h_mtok", None)
    if one_hour is None:
        fields["cache_write_1h"] = Rate(fields["input"].base * 2,
                                        fields["input"].above * 2 if fields["input"].above is not None else None)
    else:
        fields["cache_write_1h"], threshold = _rate(one_hour, threshold)
    searches = getattr(mp, "web_searches_kcount", None)
    return Rates(found.model.id, threshold, web_search=Decimal(searches or 0) / 1000, **fields)


@functools.lru_cache(maxsize=1)
def table_version() -> str:
    """Which genai-prices release the prices come from (shown beside every cost)."""
    try:
        return metadata.version("genai-prices")
    except metadata.PackageNotFoundError:
        return "not installed"
