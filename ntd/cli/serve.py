"""`ntd serve`: the portal (HTTP API and pages) on uvicorn, over the CLI's configuration."""

from __future__ import annotations

import socket

import click

from ntd.cli.kit import Runtime, pass_runtime


class BadAddress(click.ClickException):
    """A host or port ntd cannot listen on: said in one line (exit 2, a usage mistake)."""

    exit_code = 2


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise BadAddress(f"--port {text!r} is not a port number (1 to 65535)") from None
    if not 1 <= port <= 65535:
        raise BadAddress(f"--port {port} is not a port number (1 to 65535)")
    return port


def _free(host: str, port: int) -> None:
    """Refuse at once when the address is taken or not this machine's (uvicorn would log a
    traceback-like error per worker instead)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):  # UnicodeError: a label IDNA cannot encode
        raise BadAddress(f"--host {host!r} is not an address of this machine") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise BadAddress(f"cannot listen on {host}:{port}: {error.strerror}") from None


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", "port_text", default="8080", show_default=True, metavar="PORT")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="worker processes (each with its own pool of store connections)",
)
@pass_runtime
def serve(rt: Runtime, host: str, port_text: str, workers: int) -> None:
    """Serve the portal: the HTTP API under /api/v1 (reference at /docs, OpenAPI at
    /openapi.json), the pages for brands, agents, sellers and auditors, /healthz, /readyz and
    /metrics. Same stores and settings as every other command (NTD_*); the portal's own limits
    are NTD_WEB_* and NTD_SESSION_SECRET (see `ntd config`). API clients authenticate with
    `Authorization: Bearer TOKEN` (`ntd tokens create PRINCIPAL`); people log in at /login
    with the same token. Ctrl-C or SIGTERM stops it after the requests in flight.

    Rate limits are kept per worker process: with --workers N a client may reach N times
    NTD_WEB_RATE per minute.

    \b
    Examples:
      ntd serve
      ntd serve --host 0.0.0.0 --port 8443 --workers 4
      NTD_EVENT_STORE=postgres NTD_READ_DSN=postgresql://ntd:ntd@127.0.0.1:5432/ntd_read \\
          NTD_SESSION_SECRET="$(cat /run/secrets/ntd-session)" ntd serve --workers 2
    """
    import uvicorn

    from ntd.web.app import create_app
    from ntd.web.runtime import Portal
    from ntd.web.settings import WebSettings

    port = _port(port_text)
    settings, web = rt.settings, WebSettings.from_env()  # a bad variable: one line, before any
    Portal(settings, web)  # refuses a read store the workers cannot share
    _free(host, port)
    click.echo(f"ntd portal on http://{host}:{port}/ ({workers} worker(s)); Ctrl-C stops it")
    if workers == 1:
        app = create_app(settings, web=web)
        uvicorn.run(app, host=host, port=port, log_config=None, timeout_graceful_shutdown=10)
    else:  # each worker process builds its own app from the environment
        uvicorn.run(
            "ntd.web.app:factory",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_config=None,
            timeout_graceful_shutdown=10,
        )
