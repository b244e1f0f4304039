"""The published event contract, shipped inside the package: an AsyncAPI 3.0 document
(`asyncapi.json`) and a JSON Schema per event (`schemas/<ce_type>.json`).

The files are generated from the event models by `scripts/contracts` (ntd/contracts.py) and
committed; read them with `importlib.resources` (the functions below), so they are found in a
source tree, an editable install and a wheel alike. Each message's `ce_dataschema` header and
each schema's `$id` is the absolute URI `<schema base><ce_type>.json`; the base is
`NTD_SCHEMA_BASE_URI`, by default `DEFAULT_SCHEMA_BASE`.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import urlsplit

DEFAULT_SCHEMA_BASE = "https://ntd.example.org/contracts/schemas/"
"""Where the schemas are said to live unless NTD_SCHEMA_BASE_URI says otherwise. example.org is
reserved for examples: an installation that serves its schemas sets its own base."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*\Z")


def root() -> Traversable:
    """The contract files: `asyncapi.json` and `schemas/<ce_type>.json`."""
    return files(__name__)


def asyncapi() -> dict[str, Any]:
    """The shipped AsyncAPI document."""
    document: dict[str, Any] = json.loads((root() / "asyncapi.json").read_text(encoding="utf-8"))
    return document


def schema(ce_type: str) -> dict[str, Any]:
    """The shipped JSON Schema of one event type, e.g. `ntd.case.taken_down.v1`."""
    path = root() / "schemas" / f"{ce_type}.json"
    if not path.is_file():
        raise KeyError(f"no published schema for {ce_type!r}")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def schema_types() -> list[str]:
    """The event types that have a shipped schema, sorted."""
    return sorted(
        p.name.removesuffix(".json")
        for p in (root() / "schemas").iterdir()
        if p.name.endswith(".json")
    )


def schema_uri(ce_type: str, base: str = DEFAULT_SCHEMA_BASE) -> str:
    """The absolute URI of one event type's schema: `ce_dataschema` and the schema's `$id`."""
    return f"{base}{ce_type}.json"


def check_schema_base(base: str) -> str:
    """The base unchanged if it is an absolute URI a file name can be appended to; otherwise
    ValueError saying what is wrong (one line)."""
    example = f"e.g. {DEFAULT_SCHEMA_BASE}"
    scheme, colon, rest = base.partition(":")
    if not colon or not _SCHEME.match(scheme) or not rest:
        raise ValueError(f"{base!r} is not an absolute URI ({example})")
    if any(c.isspace() for c in base):
        raise ValueError(f"{base!r} contains white space ({example})")
    parts = urlsplit(base)
    if parts.query or parts.fragment or "?" in base or "#" in base:
        raise ValueError(f"{base!r} has a query or fragment ({example})")
    if scheme.lower() in ("http", "https") and not parts.netloc:
        raise ValueError(f"{base!r} names no host ({example})")
    if not base.endswith(("/", ":")):
        raise ValueError(
            f"{base!r} must end with '/' (or ':' for a URN) so '<ce_type>.json' can follow"
        )
    return base
