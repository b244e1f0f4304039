"""Idempotency-Key on POSTs: the first answer to (principal, key) is kept, and a retry with
the same request gets it again instead of acting twice.

Kept in a small table beside the read models (SQLite or PostgreSQL, the read store's DSN), so
every worker and every host behind one database shares it. A key is claimed before the command
runs: a duplicate arriving meanwhile is 409, the same key with another request 422. A command
that fails releases its key (the client may retry it as it was); an answer is kept a day."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ntd.web.problems import IdempotencyInFlight, IdempotencyReused

KEEP_SECONDS = 24 * 3600
STALE_SECONDS = 120.0
"""A claim this old whose answer never came (its worker died) may be taken over."""
KEY_MAX = 200
TABLE = """CREATE TABLE IF NOT EXISTS ntd_idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (principal, key))"""


@dataclass(frozen=True)
class Kept:
    """A stored answer to replay."""

    status: int
    body: Any


def request_hash(method: str, path: str, body: Any) -> str:
    """What makes two requests the same: method, path and the validated body, canonically."""
    text = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotencyStore:
    """The table of claimed keys and kept answers, over its own connections."""

    def __init__(self, dsn: str, clock: Callable[[], float] = time.time) -> None:
        self.dsn = dsn
        self.clock = clock
        self.postgres = dsn.startswith(("postgresql://", "postgres://"))
        self.p = "%s" if self.postgres else "?"
        self._pool: Any = None
        self._lock = threading.Lock()
        with self._cursor() as cur:
            cur.execute(TABLE)

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        """A cursor in a transaction of its own, committed on success."""
        if self.postgres:
            import psycopg2.pool

            with self._lock:
                if self._pool is None:
                    self._pool = psycopg2.pool.ThreadedConnectionPool(1, 8, self.dsn)
            conn = self._pool.getconn()
            try:
                with conn, conn.cursor() as cur:
                    yield cur
            finally:
                self._pool.putconn(conn)
            return
        path = self.dsn.removeprefix("sqlite://")
        conn = sqlite3.connect(path, timeout=30)
        try:
            with conn:
                yield conn.cursor()
        finally:
            conn.close()

    def claim(self, principal: str, key: str, digest: str) -> Kept | None:
        """Claim the key for this request: None when the caller now runs the command; the kept
        answer when it already ran; IdempotencyInFlight or IdempotencyReused otherwise."""
        if not key or len(key) > KEY_MAX:
            raise IdempotencyReused(f"Idempotency-Key: 1 to {KEY_MAX} characters")
        now = self.clock()
        p = self.p
        with self._cursor() as cur:
            if random.random() < 0.01:  # now and then, forget answers older than a day
                cur.execute(
                    f"DELETE FROM ntd_idempotency WHERE created_at < {p}", (now - KEEP_SECONDS,)
                )
            cur.execute(
                f"INSERT INTO ntd_idempotency (principal, key, request_hash, created_at) "
                f"VALUES ({p}, {p}, {p}, {p}) ON CONFLICT (principal, key) DO NOTHING",
                (principal, key, digest, now),
            )
            if cur.rowcount == 1:
                return None
            cur.execute(
                f"SELECT request_hash, status, body, created_at FROM ntd_idempotency "
                f"WHERE principal = {p} AND key = {p}",
                (principal, key),
            )
            row = cur.fetchone()
            if row is None:  # released between the two statements: try once more
                return self.claim(principal, key, digest)
            stored_hash, status, body, created = row
            if stored_hash != digest:
                raise IdempotencyReused(
                    "Idempotency-Key: already used for another request; use a new key"
                )
            if status is not None:
                return Kept(int(status), json.loads(body))
            if now - float(created) < STALE_SECONDS:
                raise IdempotencyInFlight(
                    "Idempotency-Key: a request with this key is still being answered; retry"
                )
            cur.execute(
                f"UPDATE ntd_idempotency SET created_at = {p} WHERE principal = {p} AND key = {p}",
                (now, principal, key),
            )
            return None

    def keep(self, principal: str, key: str, status: int, body: Any) -> None:
        """Keep the answer for retries."""
        p = self.p
        with self._cursor() as cur:
            cur.execute(
                f"UPDATE ntd_idempotency SET status = {p}, body = {p} "
                f"WHERE principal = {p} AND key = {p}",
                (status, json.dumps(body), principal, key),
            )

    def release(self, principal: str, key: str) -> None:
        """Forget a claim whose command failed: the same request may be tried again."""
        p = self.p
        with self._cursor() as cur:
            cur.execute(
                f"DELETE FROM ntd_idempotency WHERE principal = {p} AND key = {p} "
                "AND status IS NULL",
                (principal, key),
            )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.closeall()
            self._pool = None
