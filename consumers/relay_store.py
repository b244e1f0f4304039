"""Where the relay keeps its position and its parked events: beside the event store."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg2

from projections.schema_lock import lock_schema

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ntd_relay_position (
        name TEXT PRIMARY KEY,
        position BIGINT NOT NULL,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS ntd_relay_dead_letters (
        notification_id BIGINT PRIMARY KEY,
        topic TEXT NOT NULL,
        originator_id TEXT NOT NULL,
        originator_version BIGINT NOT NULL,
        reason TEXT NOT NULL,
        state TEXT NOT NULL,
        parked_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)""",
)


@dataclass(frozen=True)
class Parked:
    """A stored event the relay could not encode, with the reason."""

    notification_id: int
    topic: str
    originator_id: str
    originator_version: int
    reason: str
    state: str


class RelayPositions(Protocol):
    """The port: the relay's stored position and its dead letters."""

    def load(self, name: str) -> int: ...

    def advance(self, name: str, position: int, parked: list[Parked]) -> None: ...

    def parked(self) -> list[Parked]: ...

    def close(self) -> None: ...


class SqlRelayPositions:
    """DB-API adapter for SQLite and PostgreSQL; position and parked rows commit together."""

    def __init__(self, connection: Any, placeholder: str) -> None:
        self.connection = connection
        self.p = placeholder
        cursor = connection.cursor()
        if not isinstance(connection, sqlite3.Connection):
            lock_schema(cursor)  # processes starting together take turns at creating the tables
        for statement in SCHEMA:
            cursor.execute(statement)
        connection.commit()

    @classmethod
    def sqlite(cls, path: str) -> SqlRelayPositions:
        """Beside an embedded SQLite event store."""
        return cls(sqlite3.connect(path, timeout=30), "?")

    @classmethod
    def postgres(cls, dsn: str, schema: str = "") -> SqlRelayPositions:
        """Beside a PostgreSQL event store (in its schema, when it has one)."""
        options = f"-c search_path={schema}" if schema else ""
        return cls(psycopg2.connect(dsn, options=options), "%s")

    def load(self, name: str) -> int:
        cursor = self.connection.cursor()
        cursor.execute(f"SELECT position FROM ntd_relay_position WHERE name = {self.p}", (name,))
        row = cursor.fetchone()
        self.connection.commit()
        return int(row[0]) if row else 0

    def advance(self, name: str, position: int, parked: list[Parked]) -> None:
        p = self.p
        cursor = self.connection.cursor()
        try:
            if parked:
                cursor.executemany(
                    "INSERT INTO ntd_relay_dead_letters (notification_id, topic, originator_id,"
                    f" originator_version, reason, state) VALUES ({p}, {p}, {p}, {p}, {p}, {p})"
                    " ON CONFLICT (notification_id) DO NOTHING",
                    [
                        (
                            x.notification_id,
                            x.topic,
                            x.originator_id,
                            x.originator_version,
                            x.reason,
                            x.state,
                        )
                        for x in parked
                    ],
                )
            cursor.execute(
                f"INSERT INTO ntd_relay_position (name, position) VALUES ({p}, {p})"
                " ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position,"
                " updated_at = CURRENT_TIMESTAMP",
                (name, position),
            )
            self.connection.commit()
        except Exception:
            self.connection.rollback()
            raise

    def parked(self) -> list[Parked]:
        cursor = self.connection.cursor()
        cursor.execute(
            "SELECT notification_id, topic, originator_id, originator_version, reason, state"
            " FROM ntd_relay_dead_letters ORDER BY notification_id"
        )
        rows = [Parked(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5]) for r in cursor.fetchall()]
        self.connection.commit()
        return rows

    def close(self) -> None:
        self.connection.close()
