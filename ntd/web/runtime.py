"""The portal's runtime: settings, a pool of wired systems the request threads borrow, and the
one thread that catches the embedded read models up."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import cast

from fastapi import Request

from domain.application import SystemClock
from domain.values import Clock
from ntd.bootstrap import FixedClock, Ntd, build
from ntd.config import ConfigError, Settings
from ntd.web.idempotency import IdempotencyStore
from ntd.web.limits import FailedAttempts, TokenBuckets
from ntd.web.settings import WebSettings


class Portal:
    """What every request shares (app.state.portal): the settings and a pool of `Ntd`.

    A read store is one DB-API connection that serves one caller at a time, so each request
    borrows a whole wired system. Catching up (embedded mode) runs on a single thread with an
    `Ntd` of its own: the policy view's SQLite connection may only be used by the thread that
    opened it, and one catch-up at a time is all the log needs."""

    def __init__(
        self, settings: Settings, web: WebSettings | None = None, clock: Clock | None = None
    ) -> None:
        if settings.read_dsn == "memory:":
            raise ConfigError(
                "NTD_READ_DSN=memory: cannot serve the portal: its workers need a shared read "
                "store (sqlite:///PATH or postgresql://…)"
            )
        self.settings = settings
        self.web = web or WebSettings()
        self.clock: Clock = clock or (FixedClock(settings.now) if settings.now else SystemClock())
        self.api_limits = TokenBuckets(self.web.rate_per_minute)
        """Requests per token (ntd/web/limits.py)."""
        self.logins = FailedAttempts(self.web.login_attempts, self.web.login_window_seconds)
        """Failed logins per client."""
        self.session_key: bytes | None = None
        """The key that signs session cookies, read once (ntd/web/auth.py)."""
        self._idle: queue.LifoQueue[Ntd] = queue.LifoQueue()
        self._made = 0
        self._making = threading.Lock()
        self._catcher: Ntd | None = None
        self._catching: ThreadPoolExecutor | None = None
        self._caught_at = 0.0
        self._idempotency: IdempotencyStore | None = None

    @property
    def idempotency(self) -> IdempotencyStore:
        """The Idempotency-Key table beside the read models, opened on first use."""
        with self._making:
            if self._idempotency is None:
                self._idempotency = IdempotencyStore(self.settings.read_dsn)
            return self._idempotency

    @contextmanager
    def ntd(self) -> Iterator[Ntd]:
        """Borrow a wired system for the length of a request (waiting when all are lent)."""
        ntd = self._take()
        try:
            yield ntd
        finally:
            self._idle.put(ntd)

    def _take(self) -> Ntd:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._making:
            if self._made < self.web.pool_size:
                self._made += 1
                return self._build()
        return self._idle.get()

    def _build(self) -> Ntd:
        return build(self.settings, clock=self.clock, single_user=True)

    def caught_up(self, ntd: Ntd) -> Ntd:
        """`ntd` once the embedded read models hold every event stored before this call (a
        no-op when Kafka feeds them). Callers arriving during a catch-up wait for the next one,
        which starts after their call; one that started later than the call satisfies it."""
        if self.settings.feed != "log":
            return ntd
        asked = time.monotonic()
        self._catcher_thread().submit(self._catch_up, asked).result()
        return ntd

    def _catcher_thread(self) -> ThreadPoolExecutor:
        with self._making:
            if self._catching is None:
                self._catching = ThreadPoolExecutor(1, thread_name_prefix="ntd-catch-up")
            return self._catching

    def _catch_up(self, asked: float) -> None:
        if self._caught_at > asked:
            return  # a catch-up that started after the call has finished
        started = time.monotonic()
        if self._catcher is None:
            self._catcher = self._build()
        self._catcher.catch_up()
        self._caught_at = started

    def close(self) -> None:
        """Close every pooled system (at shutdown); the portal opens new ones if used again
        (an app may be started more than once, as tests do)."""
        with self._making:
            catching, self._catching = self._catching, None
            idempotency, self._idempotency = self._idempotency, None
        if catching is not None:
            catching.submit(self._close_catcher).result()
            catching.shutdown()
        if idempotency is not None:
            idempotency.close()
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break
            with self._making:
                self._made -= 1

    def _close_catcher(self) -> None:
        if self._catcher is not None:
            self._catcher.close()
            self._catcher = None
            self._caught_at = 0.0


def portal(request: Request) -> Portal:
    """The portal of the app serving this request."""
    return cast(Portal, request.app.state.portal)
