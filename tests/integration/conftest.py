"""Fixtures for tests against the real PostgreSQL and Kafka that scripts/ starts. Without them
the tests skip, unless NTD_REQUIRE_SERVICES=1 (scripts/test), where they fail."""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import psycopg2
import pytest
from psycopg2 import sql

from ntd.bootstrap import Ntd, build
from ntd.config import Settings
from tests.unit.domain_fixtures import Backend

PG_ADMIN_DSN = os.environ.get("NTD_TEST_PG_DSN", "postgresql://ntd:ntd@127.0.0.1:5432/")
EVENTS_DSN = PG_ADMIN_DSN + "ntd_test_events"
READ_DSN = PG_ADMIN_DSN + "ntd_test_read"
KAFKA = os.environ.get("NTD_TEST_KAFKA", "127.0.0.1:9092")
REPO = Path(__file__).resolve().parents[2]


def _reachable(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def _require(name: str, hostport: str) -> None:
    if _reachable(hostport):
        return
    message = f"{name} is not reachable on {hostport}; start it with scripts/{name.lower()} start"
    if os.environ.get("NTD_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres() -> str:
    """The DSN of the test event-store database, once PostgreSQL answers."""
    url = urlparse(PG_ADMIN_DSN)
    _require("Postgres", f"{url.hostname or '127.0.0.1'}:{url.port or 5432}")
    return EVENTS_DSN


@pytest.fixture(scope="session")
def kafka() -> str:
    """Kafka's bootstrap address, once the broker answers."""
    _require("Kafka", KAFKA)
    return KAFKA


@pytest.fixture
def unique() -> str:
    """A short unique name for this test's schema and topic prefix."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def pg_schema(postgres: str, unique: str) -> Iterator[str]:
    """A fresh PostgreSQL schema for one test's event store, dropped afterwards."""
    yield unique
    connection = psycopg2.connect(postgres)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(unique)))
    connection.close()


@pytest.fixture
def pg_settings(tmp_path: Path, pg_schema: str, kafka: str) -> Settings:
    """Production-shaped settings: PostgreSQL event store in its own schema, own topic prefix."""
    return Settings(
        data_dir=tmp_path,
        event_store="postgres",
        events_dsn=EVENTS_DSN,
        events_schema=pg_schema,
        read_dsn=f"sqlite:///{tmp_path / 'read.db'}",
        kafka_bootstrap=kafka,
        kafka_partitions=3,
        topic_prefix=f"{pg_schema}.",
    )


@pytest.fixture
def pg_ntd(pg_settings: Settings) -> Iterator[Ntd]:
    """ntd wired to the PostgreSQL event store."""
    system = build(pg_settings)
    yield system
    system.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess `ntd` use these settings."""
    env = dict(os.environ)
    env.update(
        NTD_DATA_DIR=str(settings.data_dir),
        NTD_EVENT_STORE=settings.event_store,
        NTD_EVENTS_DSN=settings.events_dsn,
        NTD_EVENTS_SCHEMA=settings.events_schema,
        NTD_READ_DSN=settings.read_dsn,
        NTD_FEED=settings.feed,
        NTD_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        NTD_KAFKA_PARTITIONS=str(settings.kafka_partitions),
        NTD_TOPIC_PREFIX=settings.topic_prefix,
        NTD_LOG_FORMAT="json",
    )
    return env


@pytest.fixture(scope="module")
def on_postgres(postgres: str) -> Iterator[None]:
    """Switch the domain tests' Backend to PostgreSQL (one schema per application), for the
    modules here that re-run a tests/unit module."""
    before = Backend.kind
    Backend.kind, Backend.postgres_dsn = "postgres", postgres
    yield
    Backend.kind = before
    connection = psycopg2.connect(postgres)
    connection.autocommit = True
    with connection.cursor() as cursor:
        for schema in Backend.schemas:
            cursor.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            )
    connection.close()
    Backend.schemas.clear()


@pytest.fixture
def read_schema(postgres: str, unique: str) -> Iterator[str]:
    """A fresh schema in the read-model database for one test, dropped afterwards."""
    name = f"{unique}_read"
    connection = psycopg2.connect(READ_DSN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    connection.close()


def read_dsn(schema: str) -> str:
    """The read-model database URL with `schema` as its search path."""
    return f"{READ_DSN}?options=-csearch_path%3D{schema}"


@pytest.fixture
def kafka_settings(pg_settings: Settings, read_schema: str) -> Settings:
    """Production-shaped settings fed from Kafka: read models in PostgreSQL, own schema."""
    return dataclasses.replace(pg_settings, feed="kafka", read_dsn=read_dsn(read_schema))
