"""Where the relay's pages come from: the log read and encoded in the relay's own process, or
read and encoded ahead by a process of its own while the relay only produces.

A page is the messages of a stretch of the log, the events it parks, and the last id it covers.
Encoding (validation, CloudEvents headers) costs about as much Python time per event as
kafka-python's send does, so a second process doubles what one relay can publish.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import pickle
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import structlog
from eventsourcing.persistence import Mapper, Notification

from consumers.contracts import DEFAULT_SCHEMA_BASE
from consumers.envelope import Outgoing, encode_stored
from consumers.relay_store import Parked
from consumers.stored import published

log = structlog.get_logger("ntd.relay")

Select = Callable[[int, int], tuple[Sequence[Notification], int]]
"""Up to `limit` rows of the log from `start`, and the last id the read covered (0: none)."""

Opener = Callable[[], tuple[Select, Mapper[Any], Callable[[], None]]]
"""Opens a log reader in the process that calls it: select, the mapper, and a closer."""


class EncoderLost(RuntimeError):
    """The encoder process could not open or read the log (its store went away), or ended: a
    relay made anew starts a new one from its stored position."""


class Page(NamedTuple):
    """The messages of a stretch of the log up to `last_id`, and the events it parks."""

    last_id: int
    messages: list[Outgoing]
    parked: list[Parked]


class Pages(Protocol):
    """The port: the next page from a position of the log."""

    def next(self, start: int, size: int) -> Page | None:
        """The page from id `start` on (at most `size` rows), or None when the log has no more
        now. A `start` other than where the last page ended means: read again from there."""
        ...

    def close(self) -> None: ...


def encode_page(
    rows: Sequence[Notification],
    last_id: int,
    mapper: Mapper[Any],
    schema_base: str = DEFAULT_SCHEMA_BASE,
) -> Page:
    """Encode rows of the log (`ce_dataschema` under `schema_base`); whatever cannot be encoded
    is parked with its reason."""
    messages, parked = [], []
    for row in rows:
        try:
            if not published(row):
                continue
            messages.append(encode_stored(row, mapper, schema_base))
        except Exception as error:  # anything undecodable is parked, never lost or retried
            parked.append(park(row, error))
    return Page(last_id, messages, parked)


def park(notification: Notification, error: Exception) -> Parked:
    """The dead-letter row of a stored event that cannot be encoded."""
    state = notification.state
    text = state.decode("utf-8", "replace") if isinstance(state, bytes) else str(state)
    return Parked(
        notification_id=notification.id,
        topic=notification.topic,
        originator_id=str(notification.originator_id),
        originator_version=notification.originator_version,
        reason=f"{type(error).__name__}: {error}"[:2000],
        state=text,
    )


@dataclass
class InlinePages:
    """Pages read and encoded in the relay's own process."""

    select: Select
    mapper: Mapper[Any]
    release: Callable[[], None] | None = None
    schema_base: str = DEFAULT_SCHEMA_BASE
    """The base of the messages' `ce_dataschema` URIs (NTD_SCHEMA_BASE_URI)."""

    def next(self, start: int, size: int) -> Page | None:
        rows, last_id = self.select(start, size)
        return encode_page(rows, last_id, self.mapper, self.schema_base) if last_id else None

    def close(self) -> None:
        if self.release is not None:
            self.release()


class _CaughtUp(NamedTuple):
    """The encoder found nothing more after `position`."""

    position: int


class _Ready(NamedTuple):
    """The encoder has opened the log and waits to be told where to start."""


class ProcessPages:
    """Pages read and encoded ahead, in order, by a process of its own.

    Starting the encoder (a fresh interpreter, its imports, its own connection) takes most of a
    second; until it says it is ready, pages come from `inline` (when given), and then it is told
    to start where they ended. It writes each page, pickled, into a pipe widened to hold a page
    or two, so it runs about that far in front of the relay. When the relay asks from anywhere
    but the end of the last page (after a broker outage it goes back to its stored position),
    the encoder is replaced by one that starts there. The encoder ends when the relay closes it,
    or by itself when the relay's process is gone (its pipes break, or its parent changes)."""

    def __init__(
        self,
        opener: Opener,
        idle_wait: float = 0.01,
        start_timeout: float = 60,
        inline: Pages | None = None,
        schema_base: str = DEFAULT_SCHEMA_BASE,
    ) -> None:
        self.opener = opener
        self.schema_base = schema_base
        self.idle_wait = idle_wait
        self.start_timeout = start_timeout
        self.inline = inline
        self.context = multiprocessing.get_context("spawn")
        self.process: Any = None
        self.pipe: Any = None
        self.control: Any = None
        self.expected = -1
        self.ready = False
        self.idle_at: int | None = None
        """The position the encoder last said it found nothing after."""

    def next(self, start: int, size: int) -> Page | None:
        """The next page, merged with whatever else the encoder has already handed over (it
        runs ahead in small pages when the log grows slowly), up to about `size` messages."""
        if self.process is None or (self.ready and start != self.expected):
            self._restart()
        if not self.ready:
            if self.inline is not None and not self.pipe.poll(0):
                page = self.inline.next(start, size)
                self.expected = page.last_id + 1 if page is not None else start
                return page
            self._start_at(start, size)
        pages = self._collect(size)
        if not pages:
            return None
        self.expected = pages[-1].last_id + 1
        if len(pages) == 1:
            return pages[0]
        return Page(
            pages[-1].last_id,
            [m for p in pages for m in p.messages],
            [x for p in pages for x in p.parked],
        )

    def _collect(self, size: int) -> list[Page]:
        """The pages the encoder has handed over, up to about `size` messages; if none, wait
        for one, unless the encoder said it found nothing after the relay's position (only
        then is the log drained for now: a slow page is not the end of the log)."""
        pages: list[Page] = []
        messages = 0
        deadline = time.monotonic() + self.start_timeout
        while messages < size:
            drained = self.idle_at == self.expected - 1
            if pages or drained:
                wait = 0.0 if pages else max(self.idle_wait, 0.05)
            else:
                wait = max(deadline - time.monotonic(), 0.0)
            item = self._receive(wait)
            if item is None:
                if pages or drained:
                    break
                raise EncoderLost(
                    f"relay encoder process gave nothing in {self.start_timeout:.0f} s"
                )
            if isinstance(item, _CaughtUp):
                self.idle_at = item.position
            elif isinstance(item, Page):
                pages.append(item)
                messages += len(item.messages)
                self.idle_at = None
        return pages

    def _start_at(self, start: int, size: int) -> None:
        """Wait for the encoder to be ready, and tell it where to start."""
        if not isinstance(self._receive(self.start_timeout), _Ready):
            raise EncoderLost("relay encoder process did not say it was ready")
        try:
            self.control.send((start, size))
        except OSError:
            code = self.process.exitcode
            raise EncoderLost(f"relay encoder process ended (exit code {code})") from None
        self.ready, self.expected, self.idle_at = True, start, None

    def _receive(self, wait: float) -> Page | _CaughtUp | _Ready | None:
        """The encoder's next item within `wait` seconds, or None; raises what it reports."""
        try:
            item = pickle.loads(self.pipe.recv_bytes()) if self.pipe.poll(wait) else None
        except EOFError:
            item = None
        if item is None:
            if not self.process.is_alive():
                raise EncoderLost(
                    f"relay encoder process ended (exit code {self.process.exitcode})"
                )
            return None
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, (Page, _CaughtUp, _Ready))
        return item

    def _restart(self) -> None:
        self._stop_encoder()
        self.pipe, writer = self.context.Pipe(duplex=False)
        reader, self.control = self.context.Pipe(duplex=False)
        _widen(writer.fileno())
        self.process = self.context.Process(
            target=_encode_ahead,
            args=(self.opener, self.idle_wait, writer, reader, os.getpid(), self.schema_base),
            name="ntd-relay-encoder",
            daemon=True,
        )
        self.process.start()
        writer.close()
        reader.close()
        self.ready = False
        log.info("relay.encoder_started", pid=self.process.pid)

    def close(self) -> None:
        """End the encoder, and close the inline pages."""
        self._stop_encoder()
        if self.inline is not None:
            self.inline.close()

    def _stop_encoder(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(5)
            self.process = None
        for end in (self.pipe, self.control):
            if end is not None:
                end.close()
        self.pipe = self.control = None


def _widen(fd: int) -> None:
    """Let the pipe hold a page or two (Linux; elsewhere it keeps its size)."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[attr-defined]


PIPE_BYTES = 1 << 20
"""The pipe's capacity: Linux's default maximum for an unprivileged process."""


def _encode_ahead(
    opener: Opener,
    idle_wait: float,
    out: Any,
    control: Any,
    parent: int,
    schema_base: str = DEFAULT_SCHEMA_BASE,
) -> None:
    """The encoder process: open the log, say so, and from the position the relay names read
    and encode it, page after page."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the relay stops it (Ctrl-C reaches both)
    try:
        select, mapper, release = opener()
    except BaseException as error:
        _send(out, EncoderLost(f"relay encoder could not open the log: {error}"))
        return
    try:
        _send(out, _Ready())
        start, size = control.recv()
        position, idle = start - 1, False
        while os.getppid() == parent:
            rows, last_id = select(position + 1, size)
            if not last_id:
                if not idle:
                    _send(out, _CaughtUp(position))
                idle = True
                time.sleep(idle_wait)
                continue
            _send(out, encode_page(rows, last_id, mapper, schema_base))
            position, idle = last_id, False
    except (BrokenPipeError, EOFError, OSError):
        pass  # the relay is gone
    except Exception as error:
        with contextlib.suppress(OSError):
            _send(out, EncoderLost(f"relay encoder failed: {type(error).__name__}: {error}"))
    finally:
        with contextlib.suppress(Exception):
            release()


def _send(out: Any, item: Any) -> None:
    out.send_bytes(pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL))
