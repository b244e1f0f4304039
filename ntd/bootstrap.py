"""The composition root: builds every object from settings; nothing connects at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.application import BatchReader, NtdApplication, SystemClock
from domain.values import Clock
from ntd.config import Settings

if TYPE_CHECKING:
    from consumers.relay import Relay
    from projections import ReadStore


class FixedClock:
    """A clock that reads a set time; `advance` moves it (demo, rehearsals, NTD_NOW)."""

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

    @property
    def read_store(self) -> ReadStore:
        """The read models, opened on first use."""
        if self._read_store is None:
            from projections import open_read_store

            self._read_store = open_read_store(self.settings.read_dsn)
        return self._read_store

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """In embedded mode, feed the projections from the notification log; returns events fed."""
        if self.settings.feed != "log":
            return 0
        from projections import catch_up

        return catch_up(self.app, self.read_store, progress=progress)

    def close(self) -> None:
        """Release database connections."""
        if self._read_store is not None:
            self._read_store.close()
            self._read_store = None
        reader = self.app.batch_reader
        if reader is not None and hasattr(reader, "close"):
            reader.close()
        self.app.close()


def build(settings: Settings | None = None, clock: Clock | None = None) -> Ntd:
    """Wire ntd from settings (default: the environment)."""
    settings = settings or Settings.from_env()
    if settings.event_store == "sqlite" or settings.read_dsn.startswith("sqlite:"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.event_store == "postgres" and settings.events_schema:
        _create_schema(settings.events_dsn, settings.events_schema)
    if clock is None:
        clock = FixedClock(settings.now) if settings.now else SystemClock()
    app = NtdApplication(
        settings.eventsourcing_env(), clock=clock, calendar=settings.calendar, rules=settings.rules
    )
    app.batch_reader = _batch_reader(settings, app)
    return Ntd(settings=settings, app=app, clock=clock)


def _batch_reader(settings: Settings, app: NtdApplication) -> BatchReader:
    from ntd.event_store import PostgresBatchReader, SqliteBatchReader

    table = getattr(app.recorder, "events_table_name", "stored_events")
    if settings.event_store == "sqlite":
        return SqliteBatchReader(str(settings.data_dir / "events.db"), table)
    return PostgresBatchReader(settings.events_dsn, settings.events_schema or "public", table)


def build_relay(ntd: Ntd, **overrides: Any) -> Relay:
    """The outbox relay over this store, its position kept beside the events."""
    from consumers.relay import Relay, RelayConfig
    from consumers.relay_store import SqlRelayPositions

    settings = ntd.settings
    config = RelayConfig(
        bootstrap=settings.kafka_bootstrap,
        partitions=settings.kafka_partitions,
        topic_prefix=settings.topic_prefix,
        **overrides,
    )
    if settings.event_store == "sqlite":
        positions = SqlRelayPositions.sqlite(str(settings.data_dir / "events.db"))
    else:
        positions = SqlRelayPositions.postgres(settings.events_dsn, settings.events_schema)
    recorder = ntd.app.recorder
    return Relay(
        select=lambda start, limit: recorder.select_notifications(start=start, limit=limit),
        head=recorder.max_notification_id,
        mapper=ntd.app.mapper,
        positions=positions,
        config=config,
    )


def _create_schema(dsn: str, schema: str) -> None:
    import psycopg2
    from psycopg2 import sql

    with psycopg2.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    connection.close()
