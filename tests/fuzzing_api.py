"""Hostile requests to the HTTP API, generated from its own OpenAPI document: every operation,
its path, query and header parameters and its JSON body built from their schemas, valid but for
one or a few hostile parts (the kinds of tests/fuzzing.py: non-UTF-8, deep JSON, huge numbers,
times at the limits, control characters, NFD, invisible, long and empty texts, unknown ids),
sent through FastAPI's TestClient to the portal over a copy of the fuzzer's seeded store.

The properties: no server error (500, or an exception out of the app), a status the document
gives for the operation or one any request may meet (401, 403, 404, 413, 415, 422, 428, 429),
and on a refusal (4xx) neither store changed.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from fastapi.testclient import TestClient
from hypothesis import strategies as st

from tests.fuzzing import (
    CATEGORIES,
    ROOT,
    TIMES,
    Finding,
    Pools,
    store_digest,
    text_kinds,
    uuids,
)

ANY_REQUEST = {401, 403, 404, 413, 415, 422, 428, 429}
"""Statuses any API request may meet, documented or not: no or a bad token, no role, an id
that names nothing, a body too large or not JSON, bad input, a missing If-Match, a rate."""

METHODS = ("get", "post", "put", "patch", "delete")

RAW = "\x00RAW\x00"
"""Marks a JSON value to be written raw into the body's text (a number of 5,000 digits,
100,000 nested arrays): json.dumps cannot make them."""


@dataclass(frozen=True)
class Operation:
    """One operation of the document: method, path, parameters, body schema, statuses."""

    method: str
    path: str
    parameters: tuple[dict[str, Any], ...]
    body: dict[str, Any] | None
    statuses: frozenset[int]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations(spec: dict[str, Any], prefix: str = "/api/") -> list[Operation]:
    """Every operation of the document under `prefix`, with its schemas resolved."""
    found = []
    for path, methods in spec["paths"].items():
        if not path.startswith(prefix):
            continue
        for method, op in methods.items():
            if method not in METHODS:
                continue
            content = op.get("requestBody", {}).get("content", {})
            body = content.get("application/json", {}).get("schema")
            found.append(
                Operation(
                    method,
                    path,
                    tuple(resolve(spec, p) for p in op.get("parameters", [])),
                    resolve(spec, body) if body else None,
                    frozenset(int(s) for s in op["responses"] if s.isdigit()),
                )
            )
    return found


def resolve(spec: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """The schema with every $ref replaced by what it points to (to a depth of 12)."""
    if depth > 12:
        return {}
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(spec, target, depth + 1)
        return {k: resolve(spec, v, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(spec, v, depth + 1) for v in node]
    return node


# -- valid values from schemas ---------------------------------------------------------------

TEXT = "Test buy 88121 received: counterfeit hardware, no serial tag, never supplied."


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return [o for o in options if o.get("type") != "null"] or options
    return [schema]


def valid_value(schema: dict[str, Any], name: str, pools: Pools) -> st.SearchStrategy[Any]:
    """A value the schema allows, real ids of the seeded store where the name says so."""
    return st.sampled_from(_branches(schema)).flatmap(lambda s: _valid_one(s, name, pools))


def _valid_one(schema: dict[str, Any], name: str, pools: Pools) -> st.SearchStrategy[Any]:
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    fmt = schema.get("format", "")
    if kind == "object" or "properties" in schema:
        return _valid_object(schema, pools)
    if kind == "array":
        items = schema.get("items", {})
        low = schema.get("minItems", 0)
        return st.lists(valid_value(items, name, pools), min_size=low, max_size=max(low, 2))
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        high = schema.get("maximum", low + 50)
        return st.integers(min_value=int(low), max_value=int(high))
    if fmt == "uuid" or name.endswith("_id"):
        return st.sampled_from(pools.ids_for(name.removesuffix("_id")) or ["x"])
    if fmt in ("date-time", "date") or name in TIME_NAMES:
        now = datetime.now(UTC).replace(microsecond=0)
        return st.just(now.date().isoformat() if fmt == "date" else now.isoformat())
    if "email" in name or fmt == "email":
        return st.just("legal@acme.example")
    high = schema.get("maxLength", 200)
    low = schema.get("minLength", 0)
    texts = [t for t in pools.texts_for(name) if low <= len(t) <= high] or [TEXT[:high]]
    return st.sampled_from(texts)


def _valid_object(schema: dict[str, Any], pools: Pools) -> st.SearchStrategy[dict[str, Any]]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, sub in properties.items():
            if key in required or draw(st.booleans()):
                out[key] = draw(valid_value(sub, key, pools))
        return out

    return build()


TIME_NAMES = {"due_before", "as_of", "since", "until", "at"}


# -- hostile values --------------------------------------------------------------------------


def hostile_json_values() -> dict[str, st.SearchStrategy[Any]]:
    """JSON values of each hostile kind (RAW-marked ones are written raw into the text)."""
    kinds: dict[str, st.SearchStrategy[Any]] = {
        category: strategy for category, strategy in text_kinds().items()
    }
    kinds["huge-number"] = st.sampled_from(
        [2**64, -(2**63) - 1, 1e308, RAW + "9" * 5000, RAW + "1e400", RAW + "-" + "9" * 5000]
    )
    kinds["deep-json"] = st.sampled_from(
        [RAW + "[" * 100_000 + "]" * 100_000, RAW + '{"a":' * 20_000 + "1" + "}" * 20_000]
    )
    kinds["time-limit"] = st.sampled_from(TIMES)
    kinds["uuid"] = uuids()
    kinds["empty"] = st.sampled_from(["", None, [], {}, 0, False])
    return kinds


BODIES = {
    "non-utf8": [b'{"facts": "caf\xe9 \xff\xfe"}', bytes(range(256))],
    "deep-json": [b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
    "huge-number": [b"9" * 5000, b'{"facts": ' + b"9" * 5000 + b"}"],
    "empty": [b"", b"null", b"[]", b"{}"],
    "long": [b" " * 2_000_001, b'{"facts": "' + b"x" * 2_100_000 + b'"}'],
    "control": [b'{"facts": "\x1b[31m\x07"}', b"\x00" * 64],
}
"""Whole bodies of each hostile kind."""

CONTENT_TYPES = ["application/json", "text/plain", "", "application/json; charset=latin-1"]


@dataclass(frozen=True)
class Request:
    """One generated request."""

    operation: str
    method: str
    url: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, bytes], ...]
    body: bytes | None
    categories: frozenset[str]

    def shell(self) -> str:
        """The request in a line (a Finding shows its input so)."""
        return self.show()

    def show(self, width: int = 100) -> str:
        body = ""
        if self.body is not None:
            text = self.body.decode("utf-8", "backslashreplace")
            body = f" body={text[:width]!r}" + (
                f"…({len(self.body)} bytes)" if len(text) > width else ""
            )
        query = "&".join(f"{k}={v[:width]!r}" for k, v in self.query)
        heads = " ".join(
            f"{k}: {v[:width]!r}" for k, v in self.headers if k.lower() != "authorization"
        )
        return f"{self.method.upper()} {self.url}{'?' + query if query else ''} {heads}{body}"


def requests(
    op: Operation, pools: Pools, categories: frozenset[str] = frozenset(CATEGORIES)
) -> st.SearchStrategy[Request]:
    """Requests to `op`: valid parameters and body but for none, one or a few hostile parts."""
    kinds = hostile_json_values()
    allowed = sorted(c for c in categories - {"valid"} if c in kinds or c in BODIES)
    parts: list[tuple[str, Any]] = [("param", p) for p in op.parameters]
    parts.append(("auth", None))
    if op.body is not None:
        parts += [("field", None), ("body", None)]

    @st.composite
    def build(draw: st.DrawFn) -> Request:
        hostile: dict[int, str] = {}
        for _ in range(draw(st.sampled_from([1, 0, 1, 2]))):
            hostile[draw(st.integers(0, len(parts) - 1))] = draw(st.sampled_from(allowed))
        tags: set[str] = set()
        url = op.path
        query: list[tuple[str, str]] = []
        headers: dict[str, bytes] = {}
        for i, (what, param) in enumerate(parts):
            if what != "param":
                continue
            name, where = param["name"], param["in"]
            required = param.get("required", False)
            category = hostile.get(i)
            if category is None and not required and not draw(st.booleans()):
                continue
            if category is not None:
                value = draw(kinds[category]) if category in kinds else ""
                tags.add(category)
            else:
                value = draw(valid_value(param.get("schema", {}), name, pools))
            text = _text(value, name)
            if where == "path":
                url = url.replace("{" + name + "}", _quoted(text))
            elif where == "query":
                for one in value if isinstance(value, list) and value else [text]:
                    query.append((name, _text(one, name)))
            elif where == "header":
                headers[name] = _header(text)
        auth_index = parts.index(("auth", None))
        if auth_index in hostile:
            tags.add(hostile[auth_index])
            token = draw(st.sampled_from(["", "Basic eDp5", "Bearer ", "Bearer ntd_x_y"]))
            if token:
                headers["Authorization"] = _header(token)
        else:
            who = draw(st.sampled_from([ROOT, ROOT, ROOT, *pools.tokens]))
            headers["Authorization"] = f"Bearer {pools.tokens[who]}".encode()
        body: bytes | None = None
        if op.body is not None:
            value = draw(valid_value(op.body, "", pools))
            if op.path.endswith("/notices") and pools.texts.get("notice"):
                value = json.loads(pools.texts["notice"][0])
            field_index = parts.index(("field", None))
            if field_index in hostile and isinstance(value, dict) and value:
                category = hostile[field_index]
                key = draw(st.sampled_from(sorted(value)))
                value[key] = draw(kinds[category]) if category in kinds else ""
                tags.add(category)
            body = _dumps(value)
            body_index = parts.index(("body", None))
            if body_index in hostile and hostile[body_index] in BODIES:
                body = draw(st.sampled_from(BODIES[hostile[body_index]]))
                tags.add(hostile[body_index])
                headers["Content-Type"] = draw(st.sampled_from(CONTENT_TYPES)).encode()
            else:
                headers["Content-Type"] = b"application/json"
        return Request(
            op.name,
            op.method,
            url,
            tuple(query),
            tuple(headers.items()),
            body,
            frozenset(tags or {"valid"}),
        )

    return build()


def _text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value.removeprefix(RAW)
    if name.lower() == "if-match" and isinstance(value, int):
        return f'"{value}"'
    return json.dumps(value) if not isinstance(value, str) else value


def _quoted(text: str) -> str:
    """Percent-encoded for a URL, lone surrogates as the bytes they stand for."""
    return quote(text, safe="", errors="surrogateescape")


def _header(text: str) -> bytes:
    """Header bytes as a client could send them (no CR, LF or NUL: HTTP cannot carry them)."""
    return re.sub(r"[\r\n\x00]", "", text).encode("utf-8", "surrogateescape")


def _dumps(value: Any) -> bytes:
    """JSON text, RAW-marked strings written raw, lone surrogates as bytes that are no UTF-8."""
    raws: list[str] = []

    def mark(v: Any) -> Any:
        if isinstance(v, str) and v.startswith(RAW):
            raws.append(v.removeprefix(RAW))
            return f"@@RAW{len(raws) - 1}@@"
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        if isinstance(v, list):
            return [mark(x) for x in v]
        return v

    text = json.dumps(mark(value), ensure_ascii=False)
    for i, raw in enumerate(raws):
        text = text.replace(f'"@@RAW{i}@@"', raw)
    return text.encode("utf-8", "surrogateescape")


# -- sending and judging ---------------------------------------------------------------------


@dataclass
class Answer:
    request: Request
    status: int | None
    """None: the app raised (then `error` has the traceback) or did not answer in time."""
    error: str = ""
    changed: list[str] = field(default_factory=list)
    seconds: float = 0.0


class Stores:
    """Tells whether a request changed the stores' content. SQLite's data_version, read on a
    connection of our own, moves whenever another connection commits (even a commit that
    changes no row: a catch-up that found nothing); only then are the rows compared."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._db = {
            name: sqlite3.connect(data_dir / name, check_same_thread=False)
            for name in ("events.db", "read.db")
        }
        self._versions = self._read_versions()
        self._digests = store_digest(data_dir)

    def _read_versions(self) -> dict[str, int]:
        return {n: db.execute("PRAGMA data_version").fetchone()[0] for n, db in self._db.items()}

    def changed(self) -> list[str]:
        """The stores whose rows changed since the last call."""
        versions = self._read_versions()
        moved = [n for n in versions if versions[n] != self._versions[n]]
        self._versions = versions
        if not moved:
            return []
        digests = store_digest(self.data_dir)
        changed = [n for n in moved if digests[n] != self._digests[n]]
        self._digests = digests
        return changed

    def close(self) -> None:
        for db in self._db.values():
            db.close()


class Api:
    """The portal over a copy of the seeded store, with a client and the stores' watch."""

    def __init__(self, root: Path, seed_dir: Path, pools: Pools) -> None:
        from ntd.config import Settings
        from ntd.web.app import create_app
        from ntd.web.settings import WebSettings

        self.data = root / "api-data"
        if self.data.exists():
            shutil.rmtree(self.data)
        shutil.copytree(seed_dir, self.data)
        settings = Settings(data_dir=self.data, read_dsn=f"sqlite:///{self.data}/read.db")
        # no rate limit: a 429 would hide what the requests after it would find
        web = WebSettings(rate_per_minute=10**9, login_attempts=10**9)
        self.app = create_app(settings, web=web)
        self.pools = pools
        self.client = TestClient(self.app, raise_server_exceptions=True)
        self.client.__enter__()
        self.stores = Stores(self.data)

    def close(self) -> None:
        self.stores.close()
        self.client.__exit__(None, None, None)

    def spec(self) -> dict[str, Any]:
        answer = self.client.get("/openapi.json")
        return answer.json()  # type: ignore[no-any-return]

    def settle(self) -> None:
        """Bring the read models up to the event log (a read as agent:root catches up)."""
        headers = {"Authorization": f"Bearer {self.pools.tokens[ROOT]}"}
        self.client.get("/api/v1/cases", params={"limit": 1}, headers=headers)

    def send(self, request: Request, timeout: float = 30.0) -> Answer:
        """Send `request`; a refusal (4xx) must leave the stores as they were."""
        import time

        result: dict[str, Any] = {}

        def call() -> None:
            try:
                query = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in request.query)
                answer = self.client.request(
                    request.method,
                    f"{request.url}?{query}" if query else request.url,
                    headers=dict(request.headers),
                    content=request.body,
                )
                result["status"] = answer.status_code
            except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
                result["error"] = "unsent"  # the client would not send it: no server saw it
            except Exception:  # noqa: BLE001 - what escaped the app is the finding
                result["error"] = traceback.format_exc()

        start = time.monotonic()
        worker = threading.Thread(target=call, daemon=True)
        worker.start()
        worker.join(timeout)
        seconds = time.monotonic() - start
        if worker.is_alive():
            return Answer(request, None, "hang", seconds=seconds)
        status = result.get("status")
        changed = self.stores.changed()
        if status is not None and status < 400:
            self.settle()
            self.stores.changed()
            changed = []
        return Answer(request, status, result.get("error", ""), changed, seconds)


def check_answer(answer: Answer, op: Operation) -> list[Finding]:
    """No server error nor exception, a documented status, stores unchanged on a 4xx."""
    from tests.fuzzing import _where, last_frames

    request = answer.request
    found: list[Finding] = []

    def add(kind: str, where: str) -> None:
        found.append(Finding(kind, where, op.name, request))  # type: ignore[arg-type]

    if answer.error == "unsent":
        return found
    if answer.error == "hang":
        add("hang", op.name)
    elif answer.error:
        add("traceback", _where(last_frames(answer.error)))
    elif answer.status is not None:
        if answer.status >= 500:
            add("server-error", f"{op.name}: {answer.status}")
        elif answer.status not in op.statuses | ANY_REQUEST:
            add("status", f"status {answer.status}")
        if answer.status >= 400 and answer.changed:
            add("store-changed", f"{op.name}: {', '.join(answer.changed)}")
    return found


@contextmanager
def api(root: Path, seed_dir: Path, pools: Pools) -> Iterator[Api]:
    portal = Api(root, seed_dir, pools)
    try:
        yield portal
    finally:
        portal.close()


Judge = Callable[[Answer, Operation], list[Finding]]
