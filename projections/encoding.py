"""How values are written as text on the read side, so that rows hash the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson


def stamp(moment: datetime) -> str:
    """A timestamp as stored: UTC ISO 8601 with microseconds, so text order is time order."""
    if type(moment) is datetime and moment.utcoffset() == _ZERO:
        text = orjson.dumps(moment)  # a third of isoformat's time; drops zero microseconds
        if len(text) == _WITH_MICROSECONDS:
            return text[1:-1].decode()
        if len(text) == _WITHOUT_MICROSECONDS:
            return text[1:20].decode() + ".000000+00:00"
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


_ZERO = timedelta(0)
_WITH_MICROSECONDS = len(b'"2026-01-01T00:00:00.000001+00:00"')
_WITHOUT_MICROSECONDS = len(b'"2026-01-01T00:00:00+00:00"')


def canonical_bytes(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no whitespace: one text for one value.

    For the str, int and None values of audit rows this is byte for byte what
    `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` writes, so
    anyone can recompute it; orjson only makes it some 30 times faster.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def canonical_json(value: Any) -> str:
    """canonical_bytes as text."""
    return canonical_bytes(value).decode()
