"""The portal's FastAPI application: `create_app` wires the routers, the error answers, the
security headers, the body cap and the metrics; `factory` is what uvicorn's workers call.

    uvicorn --factory ntd.web.app:factory
"""

from __future__ import annotations

import html
import importlib.util
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.values import Clock, DomainError
from ntd.config import Settings
from ntd.logs import configure
from ntd.web import auth, problems
from ntd.web.metrics import CONTENT_TYPE, Metrics
from ntd.web.problems import BodyTooLarge
from ntd.web.runtime import Portal, portal
from ntd.web.settings import WebSettings

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
"""On every response, error pages and static files included."""
UNMATCHED = "(unmatched)"
"""The route label of requests no route matched: paths would make the label set unbounded."""


operations = APIRouter(tags=["operations"])
READY_WITHIN = 2.0
"""Seconds each readiness check may take before the store counts as unreachable."""
_checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ntd-ready")


@operations.get("/healthz", summary="the process is up")
def healthz() -> dict[str, str]:
    """Answers while the process serves requests; touches no store."""
    return {"status": "ok"}


@operations.get(
    "/readyz",
    summary="the stores (and the broker, where configured) are reachable",
    responses={503: {"description": "a dependency is unreachable"}},
)
def readyz(request: Request) -> JSONResponse:
    """Each dependency checked within READY_WITHIN seconds: 200 when all answer, else 503
    naming the ones that did not (never why: no server internals)."""
    here = portal(request)
    with here.ntd() as ntd:
        checks: dict[str, Callable[[], object]] = {
            "event_store": ntd.app.recorder.max_notification_id,
            "read_store": ntd.read_store.position,
        }
        if here.settings.feed == "kafka":
            checks["kafka"] = lambda: _reach(here.settings.kafka_bootstrap)
        found = {name: _within(check) for name, check in checks.items()}
    ready = all(found.values())
    body = {"status": "ready" if ready else "not ready"} | {
        name: "ok" if ok else "unreachable" for name, ok in found.items()
    }
    return JSONResponse(body, status_code=200 if ready else 503)


def _within(check: Callable[[], object]) -> bool:
    try:
        _checks.submit(check).result(timeout=READY_WITHIN)
    except Late:
        return False
    except Exception as error:  # its name only: a driver's message may hold a DSN
        problems.log.warning("readiness check failed", error=type(error).__name__)
        return False
    return True


def _reach(bootstrap: str) -> None:
    """Open a TCP connection to one of the bootstrap servers (Kafka's own client would wait
    for metadata, far longer than a probe should)."""
    failures: list[OSError] = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port or 9092)), READY_WITHIN).close()
            return
        except OSError as error:
            failures.append(error)
    raise ConnectionError(f"no bootstrap server answered ({len(failures)} tried)")


@operations.get(
    "/metrics",
    summary="Prometheus text exposition",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE: {}}}},
)
def metrics(request: Request) -> Response:
    """Requests by route and status, latency histograms, stored events and lag (this worker)."""
    with portal(request).ntd() as ntd:
        text = request.app.state.metrics.render(ntd)
    return Response(text, media_type=CONTENT_TYPE)


def swagger_assets() -> Path | None:
    """The folder of the Swagger UI files the fastapi-offline package ships (served by ntd
    itself: no CDN), or None when it is not installed."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


SWAGGER_PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ntd API</title>'
    '<link rel="icon" href="/static/favicon.svg">'
    '<link rel="stylesheet" href="/static/swagger/swagger-ui.css"></head><body>'
    "<noscript><p>The interactive reference needs JavaScript; "
    '<a href="/docs/reference">the same reference without it</a>.</p></noscript>'
    '<div id="swagger-ui"></div>'
    '<script src="/static/swagger/swagger-ui-bundle.js"></script>'
    '<script src="/static/docs.js"></script></body></html>'
)
"""Swagger UI started by a script file of ours (docs.js): the CSP allows no inline script."""


@operations.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """The interactive API reference (Swagger UI over /openapi.json, "Authorize" with a
    bearer token); the server-rendered reference where Swagger UI is not installed."""
    if swagger_assets() is None:
        return reference(request)
    return HTMLResponse(SWAGGER_PAGE)


@operations.get("/docs/reference", include_in_schema=False, response_class=HTMLResponse)
def reference(request: Request) -> HTMLResponse:
    """The API reference, rendered here from the OpenAPI document: no script at all."""
    return HTMLResponse(docs_html(request.app.openapi()))


def docs_html(spec: dict[str, Any]) -> str:
    """Every operation with its parameters, body, answers and a curl line."""
    e = html.escape
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(spec['info']['title'])} API</title>",
        '<link rel="stylesheet" href="/static/portal.css"></head><body><main>',
        f"<h1>{e(spec['info']['title'])} API, version {e(str(spec['info']['version']))}</h1>",
        '<p>The machine-readable description is <a href="/openapi.json">/openapi.json</a> '
        "(OpenAPI 3.1). Every /api/v1 request carries <code>Authorization: Bearer TOKEN</code> "
        "(<code>ntd tokens create PRINCIPAL</code>); errors are application/problem+json.</p>",
    ]
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(_operation_html(path, method, op))
    parts.append("</main></body></html>")
    return "".join(parts)


def _operation_html(path: str, method: str, op: dict[str, Any]) -> str:
    e = html.escape
    anchor = e(op.get("operationId", f"{method}-{path}"))
    rows = "".join(
        f"<tr><td><code>{e(p['name'])}</code></td><td>{e(p['in'])}</td>"
        f"<td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{e(p.get('description', '') or '')}</td></tr>"
        for p in op.get("parameters", [])
    )
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    ref = body.get("schema", {}).get("$ref", "").rpartition("/")[2]
    answers = ", ".join(e(str(code)) for code in op.get("responses", {}))
    auth_flag = "-H 'Authorization: Bearer $NTD_TOKEN' " if path.startswith("/api/") else ""
    data = "-H 'Content-Type: application/json' -d @body.json " if ref else ""
    return (
        f'<section id="{anchor}"><h2><code>{e(method.upper())} {e(path)}</code></h2>'
        f"<p>{e(op.get('summary', ''))}</p>"
        f"<p>{e(op.get('description', '') or '')}</p>"
        + (
            f"<table><tr><th>parameter</th><th>in</th><th>required</th><th></th></tr>{rows}</table>"
            if rows
            else ""
        )
        + (f"<p>body: <code>{e(ref)}</code> (see /openapi.json)</p>" if ref else "")
        + f"<p>answers: {answers}</p>"
        + f"<pre>curl -X {e(method.upper())} {auth_flag}{data}http://127.0.0.1:8080{e(path)}</pre>"
        + "</section>"
    )


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    web: WebSettings | None = None,
) -> FastAPI:
    """The portal over these settings (default: the environment, as the CLI reads it)."""
    settings = settings or Settings.from_env()
    portal = Portal(settings, web or WebSettings.from_env(), clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        portal.close()

    app = FastAPI(
        title="ntd",
        summary="Notice and takedown: file notices, decide cases, follow them",
        version="1",
        docs_url=None,  # the stock page loads Swagger UI from a CDN with inline script
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.portal = portal
    app.state.metrics = Metrics()
    _errors(app)
    from ntd.web import api

    app.include_router(api.router)
    app.include_router(operations)
    app.include_router(importlib.import_module("ntd.web.pages").router)
    swagger = swagger_assets()
    if swagger is not None:  # before /static, which would match its paths first
        app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, max_body=portal.web.max_body_bytes, metrics=app.state.metrics)
    return app


def factory() -> FastAPI:
    """uvicorn's factory: the app over the environment's settings, logging configured."""
    settings = Settings.from_env()
    configure(settings.log_format, settings.log_level)
    return create_app(settings)


def _errors(app: FastAPI) -> None:
    """Every error answers through problems.answer; a page's LoginRequired is a redirect."""

    async def problem(request: Request, error: Exception) -> Response:
        return problems.answer(request, error)

    async def login_required(request: Request, error: Exception) -> Response:
        assert isinstance(error, auth.LoginRequired)
        if request.method not in ("GET", "HEAD"):
            # a form posted after the session ended: after logging in, back to the page that
            # held the form (the POST's own path would answer a GET with 405)
            error = auth.LoginRequired(_referring_path(request))
        response = RedirectResponse(error.location, status_code=303)
        auth.forget(response)  # a stale or revoked session's cookie goes
        return response

    app.add_exception_handler(auth.LoginRequired, login_required)
    for kind in (DomainError, RequestValidationError, ValidationError, HTTPException, Exception):
        app.add_exception_handler(kind, problem)


def _referring_path(request: Request) -> str:
    """The path (and query) of the page a request came from, if it is on this site; else /."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.headers.get("host"):
        return "/"
    return referer.path + (f"?{referer.query}" if referer.query else "") or "/"


# -- the guard: request id, body cap, security headers, metrics ------------------------------


class Guard:
    """Pure ASGI middleware (streamed responses pass through untouched): gives each request an
    id, refuses bodies over the cap (413: by Content-Length at once, a chunked body once read
    to the cap), adds the security headers, answers an unexpected error itself (so a 500 has
    the headers too) and counts the request by its route template."""

    def __init__(self, app: ASGIApp, max_body: int, metrics: Metrics) -> None:
        self.app = app
        self.max_body = max_body
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        status_sent: int | None = None

        async def send_guarded(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = status_sent = message["status"]
                headers = [
                    *message.get("headers", []),
                    *SECURITY_HEADERS,
                    (b"x-request-id", request_id.encode()),
                    *auth.pending_cookies(scope),
                ]
                message = {**message, "headers": headers}
            await send(message)

        try:
            declared = _content_length(scope)
            if declared is not None and declared > self.max_body:
                await self._answer(scope, receive, send_guarded, self._too_large())
                return
            if declared is None and scope["method"] in ("POST", "PUT", "PATCH"):
                buffered = await self._buffered(receive)
                if buffered is None:
                    await self._answer(scope, receive, send_guarded, self._too_large())
                    return
                receive = buffered
            try:
                await self.app(scope, receive, send_guarded)
            except Exception as error:  # answered here, inside the security headers
                if status_sent is not None:
                    raise
                await self._answer(scope, receive, send_guarded, error)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                scope["path"] if "endpoint" in scope else UNMATCHED
            )
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - started)

    def _too_large(self) -> BodyTooLarge:
        return BodyTooLarge(f"the request body is over {self.max_body:,} bytes")

    async def _buffered(self, receive: Receive) -> Receive | None:
        """A body sent without Content-Length (chunked), read whole up to the cap; None when it
        is larger. Bodies are small (the cap is a few MB), so holding one is cheap."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body:
                return None
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _answer(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        request = Request(scope, receive)
        response = problems.answer(request, error)
        if isinstance(error, BodyTooLarge):
            response.headers["connection"] = "close"
        await response(scope, receive, send)


def _content_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
