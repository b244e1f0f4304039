"""The composition root: builds every object from settings; nothing connects at import time."""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import PersistenceError

from consumers.reach import (
    DEFAULT_CONNECT_TIMEOUT,
    ServiceAway,
    reaching_postgres,
    where,
    with_connect_timeout,
)
from consumers.topics import CONSUMERS
from domain.application import NtdApplication, SystemClock
from domain.values import Clock
from ntd.config import ConfigError, Settings
from ntd.services import connect_timeout as configured_timeout
from projections.schema_lock import create_schema, use_wal

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

    from consumers.loop import ConsumerLoop
    from consumers.policies import PolicyReport
    from consumers.relay import Relay
    from consumers.relay_pages import Select
    from consumers.sink import Sink
    from ntd.event_store import StoreReader
    from ntd.store_chain import StoreChain
    from projections import ReadStore
    from projections.policy_view import PolicyStore

STORE_MARK = 0x6E746431
"""SQLite's `application_id` (bytes 68–71 of the file header, b"ntd1") of every embedded store
ntd created: `ntd demo --fresh` deletes only files that carry it."""


class UnknownConsumer(LookupError):
    """A consumer name ntd does not know, or whose module is not there."""


class FixedClock:
    """A clock that reads a set time; `set` moves it (demo, rehearsals, NTD_NOW)."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def set(self, moment: datetime) -> None:
        """Move the clock to a moment."""
        self.moment = moment


@dataclass
class Ntd:
    """The wired system: the application, its read store and the settings they came from."""

    settings: Settings
    app: NtdApplication
    clock: Clock
    _read_store: ReadStore | None = field(default=None, repr=False)
    _policy_store: PolicyStore | None = field(default=None, repr=False)
    policies: PolicyReport | None = field(default=None, repr=False)
    """What the policies did in the last embedded catch-up."""
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    """Seconds one attempt to connect to PostgreSQL may take (NTD_CONNECT_TIMEOUT)."""

    @property
    def read_store(self) -> ReadStore:
        """The read models, opened on first use."""
        if self._read_store is None:
            self._read_store = open_read_store(self.settings.read_dsn, self.connect_timeout)
        return self._read_store

    @property
    def policy_store(self) -> PolicyStore:
        """The policies' own view and position, beside the read models; opened on first use."""
        if self._policy_store is None:
            window = self.app.rules.trusted_window_days
            self._policy_store = open_policy_store(
                self.settings.read_dsn, window, self.connect_timeout
            )
        return self._policy_store

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """In embedded mode, feed the projections and then the policies from the notification
        log, again while the policies store new events; returns the events fed to projections.
        What the policies did is left in `policies`."""
        if self.settings.feed != "log":
            return 0
        from consumers.policies import PolicyReport, run_from_log
        from projections import catch_up

        fed = catch_up(self.app, self.read_store, progress=progress)
        self.policies = PolicyReport()
        while (run := run_from_log(self.app, self.policy_store)).events:
            self.policies.add(run)
            if not run.changed:
                break
            fed += catch_up(self.app, self.read_store)
        return fed

    def close(self) -> None:
        """Release database connections."""
        if self._read_store is not None:
            self._read_store.close()
            self._read_store = None
        if self._policy_store is not None:
            self._policy_store.close()
            self._policy_store = None
        for part in (self.app.batch_reader, self.app.recorder):
            if part is not None and hasattr(part, "close"):
                part.close()
        self.app.close()


def build(
    settings: Settings | None = None,
    clock: Clock | None = None,
    create_tables: bool = True,
    single_user: bool = False,
    connect_timeout: float | None = None,
) -> Ntd:
    """Wire ntd from settings (default: the environment); without `create_tables` the store
    is used as it is (no DDL, which would wait behind a writer's table lock). `single_user`:
    one caller at a time uses it (a pooled system of the portal), so the PostgreSQL event store
    keeps one connection and one spare, not the library's 4 + 10 overflow (two workers of 8
    pooled systems held 144 connections, past a default server's 100). `connect_timeout`:
    seconds one attempt to connect to PostgreSQL may take (default NTD_CONNECT_TIMEOUT; a
    worker, which retries, gives a short one)."""
    settings = settings or Settings.from_env()
    if settings.event_store == "sqlite" or settings.read_dsn.startswith("sqlite:"):
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for store in sqlite_stores(settings):
        _create_marked(store)
        _check_sqlite(store, _variable_of(store, settings))
        with _damaged(store, _variable_of(store, settings)):
            use_wal(str(store))  # before the library's own switch, which races between processes
    if clock is None:
        clock = FixedClock(settings.now) if settings.now else SystemClock()
    env = settings.eventsourcing_env() | ({} if create_tables else {"CREATE_TABLE": "n"})
    if settings.event_store == "sqlite":
        app = NtdApplication(env, clock=clock, calendar=settings.calendar, rules=settings.rules)
        app.batch_reader = _store_reader(settings, app)
        return Ntd(settings=settings, app=app, clock=clock)
    timeout = connect_timeout or configured_timeout()
    env["POSTGRES_CONNECT_TIMEOUT"] = str(max(int(timeout), 1))  # the library: whole seconds
    if single_user:
        env |= {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "1"}
    with reaching_postgres(settings.events_dsn, "NTD_EVENTS_DSN"):
        if settings.events_schema:
            create_schema(
                with_connect_timeout(settings.events_dsn, timeout), settings.events_schema
            )
        try:
            app = NtdApplication(env, clock=clock, calendar=settings.calendar, rules=settings.rules)
        except PersistenceError as error:  # the library's pool: "couldn't get a connection …"
            raise ServiceAway(
                f"PostgreSQL at {where(settings.events_dsn)} (NTD_EVENTS_DSN) cannot be used: "
                f"{error}"
            ) from error
        app.batch_reader = _store_reader(settings, app, timeout)
    return Ntd(settings=settings, app=app, clock=clock, connect_timeout=timeout)


def sqlite_stores(settings: Settings) -> list[Path]:
    """The files of the embedded SQLite stores the settings name: the event store (NTD_EVENT_STORE
    sqlite), then the read store (NTD_READ_DSN sqlite:///PATH, not :memory:)."""
    stores = [settings.data_dir / "events.db"] if settings.event_store == "sqlite" else []
    if settings.read_dsn.startswith("sqlite://"):
        name = settings.read_dsn.removeprefix("sqlite://")
        if name not in ("/:memory:", ":memory:"):
            stores.append(Path("/" + name.lstrip("/") if name.startswith("/") else name))
    return stores


SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file (an empty file is a new database)."""


def _variable_of(store: Path, settings: Settings) -> str:
    """The variable that chose this store file, for the errors that name it."""
    if settings.event_store == "sqlite" and store == settings.data_dir / "events.db":
        return "NTD_DATA_DIR"
    return "NTD_READ_DSN"


def _check_sqlite(path: Path, variable: str) -> None:
    """Refuse, naming the file and the variable that chose it, a store that is a directory,
    cannot be read or is not an SQLite database: SQLite itself says only "unable to open
    database file" or "file is not a database", from deep inside the first statement."""
    what = f"the store {str(path)!r} (from {variable})"
    if path.is_dir():
        raise ConfigError(f"{what} is a directory, not an SQLite database file")
    if path.exists() and not path.is_file():  # a device or a pipe reads as an empty new store
        raise ConfigError(f"{what} is not a regular file, so not an SQLite database file")
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return  # nothing there yet: a new store
    except OSError as error:
        raise ConfigError(f"{what} cannot be read: {error.strerror or error}") from None
    if head and head != SQLITE_HEADER:
        raise ConfigError(f"{what} is not an SQLite database")


@contextmanager
def _damaged(path: Path, variable: str) -> Iterator[None]:
    """A store with SQLite's header whose pages are not SQLite's (truncated, overwritten) fails
    at its first statement: say so, naming the file and the variable that chose it."""
    try:
        yield
    except sqlite3.DatabaseError as error:
        if type(error) is not sqlite3.DatabaseError:  # locked, constraint...: not damage
            raise
        raise ConfigError(
            f"the store {str(path)!r} (from {variable}) is damaged or not an SQLite database: "
            f"{error}"
        ) from None


def _check_sqlite_url(url: str) -> None:
    """_check_sqlite for a read store named by its URL (NTD_READ_DSN sqlite:///PATH)."""
    name = url.removeprefix("sqlite://")
    if name not in ("/:memory:", ":memory:"):
        _check_sqlite(Path(name), "NTD_READ_DSN")


def _create_marked(path: Path) -> None:
    """Create the SQLite store at `path` with ntd's mark (STORE_MARK), if nothing is there yet;
    a file already there is left as it is, unmarked: ntd did not create it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except OSError:
        return  # there already, or not creatable here: whoever opens it says so
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute(f"PRAGMA application_id = {STORE_MARK}")
    finally:
        connection.close()


def store_reader(ntd: Ntd) -> StoreReader:
    """Lean reads of the event store (log pages, many aggregates), on a connection of its own."""
    return _store_reader(ntd.settings, ntd.app, ntd.connect_timeout)


def _store_reader(
    settings: Settings, app: NtdApplication, timeout: float = DEFAULT_CONNECT_TIMEOUT
) -> StoreReader:
    from ntd.event_store import PostgresBatchReader, SqliteBatchReader

    table = getattr(app.recorder, "events_table_name", "stored_events")
    if settings.event_store == "sqlite":
        return SqliteBatchReader(str(settings.data_dir / "events.db"), table)
    with reaching_postgres(settings.events_dsn, "NTD_EVENTS_DSN"):
        dsn = with_connect_timeout(settings.events_dsn, timeout)
        return PostgresBatchReader(dsn, settings.events_schema or "public", table)


def open_store_chain(ntd: Ntd) -> StoreChain:
    """The event store's hash chain, on a connection of its own."""
    from ntd.store_chain import PostgresChain, SqliteChain

    settings = ntd.settings
    table = getattr(ntd.app.recorder, "events_table_name", "stored_events")
    if settings.event_store == "sqlite":
        return SqliteChain(str(settings.data_dir / "events.db"), table)
    return PostgresChain(settings.events_dsn, settings.events_schema or "public", table)


def build_relay(ntd: Ntd, **overrides: Any) -> Relay:
    """The outbox relay over this store, its position kept beside the events."""
    from consumers.relay import Relay, RelayConfig
    from consumers.relay_pages import InlinePages, Pages, ProcessPages
    from consumers.relay_store import SqlRelayPositions

    settings = ntd.settings
    overrides.setdefault("encoder_process", settings.event_store == "postgres")
    config = RelayConfig(
        bootstrap=settings.kafka_bootstrap,
        partitions=settings.kafka_partitions,
        topic_prefix=settings.topic_prefix,
        **overrides,
    )
    if settings.event_store == "sqlite":
        positions = SqlRelayPositions.sqlite(str(settings.data_dir / "events.db"))
    else:
        with reaching_postgres(settings.events_dsn, "NTD_EVENTS_DSN"):
            dsn = with_connect_timeout(settings.events_dsn, ntd.connect_timeout)
            positions = SqlRelayPositions.postgres(dsn, settings.events_schema)
    pages: Pages
    base = settings.schema_base
    if config.encoder_process:
        opener = functools.partial(open_log_pages, settings)
        inline = InlinePages(*_log_pages(ntd), schema_base=base)
        pages = ProcessPages(opener, config.idle_wait, inline=inline, schema_base=base)
    else:
        pages = InlinePages(*_log_pages(ntd), schema_base=base)
    return Relay(pages, ntd.app.recorder.max_notification_id, positions, config)


def open_log_pages(settings: Settings) -> tuple[Select, Mapper[Any], Callable[[], None]]:
    """In a relay's encoder process: its own view of the store (whose tables the relay's
    process made), to read the log from."""
    ntd = build(settings, create_tables=False)
    select, mapper, release = _log_pages(ntd)

    def close() -> None:
        release()
        ntd.close()

    return select, mapper, close


def _log_pages(ntd: Ntd) -> tuple[Select, Mapper[Any], Callable[[], None]]:
    from domain.catalog import internal_topics

    reader, skip = store_reader(ntd), internal_topics()
    return (
        (lambda start, limit: reader.notifications(start, limit, skip)),
        ntd.app.mapper,
        reader.close,
    )


def build_sink(ntd: Ntd, name: str) -> Sink:
    """The sink of a consumer: `projections` (read models) or `policies` (process managers:
    this system's application and a connection of its own to the policy view, beside the read
    models, closed with the sink)."""
    if name == "projections":
        from consumers.projector import ProjectionSink

        url, timeout = ntd.settings.read_dsn, ntd.connect_timeout
        return ProjectionSink(
            open_read_store(url, timeout), reopen=lambda: open_read_store(url, timeout)
        )
    if name == "policies":
        from consumers.policies import PolicySink

        window = ntd.app.rules.trusted_window_days
        url, timeout = ntd.settings.read_dsn, ntd.connect_timeout
        store = open_policy_store(url, window, timeout)
        return PolicySink(ntd.app, store, reopen=lambda: open_policy_store(url, window, timeout))
    raise UnknownConsumer(f"no consumer named {name!r} (known: {', '.join(CONSUMERS)})")


def build_consumer(ntd: Ntd, name: str, **overrides: Any) -> ConsumerLoop:
    """A consumer loop over the named sink, on this system's Kafka and topic prefix."""
    from consumers.loop import ConsumerLoop
    from consumers.loop_config import LoopConfig

    settings = ntd.settings
    config = LoopConfig(
        name=name,
        bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
        **overrides,
    )
    return ConsumerLoop(config, build_sink(ntd, name))


def open_read_store(url: str, connect_timeout: float | None = None) -> ReadStore:
    """Open (creating tables if missing) `memory:`, `sqlite:///abs/path.db` or `postgresql://…`
    (ServiceAway if PostgreSQL does not answer within `connect_timeout` seconds, by default
    NTD_CONNECT_TIMEOUT)."""
    if url == "memory:":
        from projections.memory import MemoryReadStore

        return MemoryReadStore()
    if url.startswith("sqlite://"):
        from projections.sql import open_sqlite

        _check_sqlite_url(url)
        with _damaged(Path(url.removeprefix("sqlite://")), "NTD_READ_DSN"):
            return open_sqlite(url.removeprefix("sqlite://"))
    if url.startswith(("postgresql://", "postgres://")):
        from projections.sql import open_postgres

        with reaching_postgres(url, "NTD_READ_DSN"):
            return open_postgres(with_connect_timeout(url, connect_timeout or configured_timeout()))
    raise _unknown_read_dsn(url)


def _unknown_read_dsn(url: str) -> ConfigError:
    return ConfigError(
        f"NTD_READ_DSN {url!r} is not one of memory:, sqlite:///ABS/PATH.db, "
        "postgresql://USER:PASSWORD@HOST:PORT/DB"
    )


def open_policy_store(
    url: str, window_days: int, connect_timeout: float | None = None
) -> PolicyStore:
    """The policy view beside the read models: `memory:`, `sqlite:///…` or `postgresql://…`."""
    if url == "memory:":
        from projections.policy_view import MemoryPolicyStore

        return MemoryPolicyStore(window_days)
    from projections.policy_sql import open_sql_policy_store

    if url.startswith(("postgresql://", "postgres://")):
        with reaching_postgres(url, "NTD_READ_DSN"):
            dsn = with_connect_timeout(url, connect_timeout or configured_timeout())
            return open_sql_policy_store(dsn, window_days)
    if not url.startswith("sqlite://"):
        raise _unknown_read_dsn(url)
    _check_sqlite_url(url)
    with _damaged(Path(url.removeprefix("sqlite://")), "NTD_READ_DSN"):
        return open_sql_policy_store(url, window_days)
