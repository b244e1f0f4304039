"""structlog set-up: readable in a terminal, JSON in production; configured by entry points only.

structlog's loggers and the standard library's (kafka-python's, eventsourcing's) go through one
`logging` handler on the root logger, whose structlog `ProcessorFormatter` renders both alike:
one JSON object per line, or one console line, each with its `logger` name, level and time.
An exception (`exc_info=True`, `log.exception`, a stdlib record's exc_info) is a traceback under
the line in console mode and the structured field `exception` (the traceback's text) in JSON.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import structlog

QUIET_LIBRARIES = ("kafka",)
"""Libraries whose loggers chatter at info: they show warnings and above (or the configured
level, when it is higher)."""


FAILURE_LOG = "errors.log"
"""The file, in the data directory, that keeps the tracebacks of unexpected failures: a command
shows one line on stderr and points here (ntd/cli/kit.py)."""

FAILURE_LOG_BYTES = 10 * 1024 * 1024
"""Past this size the failure log is moved to `errors.log.1` (replacing it) and begun again."""


class _Handler(logging.StreamHandler[TextIO]):
    """Writes to the given stream, or to whatever sys.stderr is when a record comes (tests and
    click's runner replace it)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # StreamHandler.__init__ sets it; the stream is chosen per record


def configure(fmt: str = "auto", level: str = "info", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging to stderr (or `stream`) as console
    lines or JSON. Calling it again replaces the earlier set-up."""
    out = stream if stream is not None else sys.stderr
    if fmt == "auto":
        fmt = "console" if out.isatty() else "json"
    number = logging.getLevelName(level.upper())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    rendering: list[structlog.typing.Processor] = (
        [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
        if fmt == "json"
        else [
            # plain tracebacks: the same log whether or not `rich` is installed (a test tool
            # brings it, and structlog then draws boxes that grep cannot find)
            structlog.dev.ConsoleRenderer(
                colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
            )
        ]
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
    )
    handler = _Handler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(number)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(number, logging.WARNING))
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


def write_failure(path: Path, event: str, error: BaseException, **fields: Any) -> None:
    """Append one JSON line to the failure log at `path` (created 0600): time, level, event,
    `fields` and the traceback as `exception`, the shape of a JSON log line. With the log level
    at debug the failure is also logged where the log goes (stderr). Raises OSError when the
    file cannot be written."""
    trace = "".join(traceback.format_exception(error))
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        structlog.get_logger("ntd.failure").error(event, **fields, exception=trace)
    line = {
        "timestamp": datetime.now(UTC).isoformat(),
        "level": "error",
        "logger": "ntd.failure",
        "event": event,
        **fields,
        "exception": trace,
    }
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > FAILURE_LOG_BYTES:
        os.replace(path, path.with_name(path.name + ".1"))
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as out:
        out.write(json.dumps(line, default=str) + "\n")
