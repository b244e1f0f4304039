"""`ntd policies what-if` on the PostgreSQL event store: a small demo replays to exactly what
happened under the rules in force, differs under a stricter rule, and leaves every row as it was."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import sql

from domain.values import Actor
from ntd.bootstrap import Ntd, build
from ntd.config import Settings
from ntd.demo import run_demo
from ntd.what_if import proposed_rules, what_if
from tests.integration.conftest import EVENTS_DSN

AUDITOR = Actor.parse("agent:audit.kim")


@pytest.fixture
def demo_on_postgres(tmp_path: Path, pg_schema: str) -> Iterator[Ntd]:
    settings = Settings(
        data_dir=tmp_path,
        event_store="postgres",
        events_dsn=EVENTS_DSN,
        events_schema=pg_schema,
        read_dsn=f"sqlite:///{tmp_path / 'read.db'}",
    )
    run_demo(settings, size=0.05, seed=11)
    system = build(settings)
    yield system
    system.close()


def rows_digest(schema: str) -> dict[str, str]:
    """Each table of the schema: a digest of its rows in a fixed order."""
    connection = psycopg2.connect(EVENTS_DSN)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                (schema,),
            )
            tables = sorted(name for (name,) in cursor.fetchall())
            digests = {}
            for table in tables:
                query = sql.SQL("SELECT t::text FROM {}.{} AS t ORDER BY 1").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
                cursor.execute(query)
                rows = "\n".join(row for (row,) in cursor.fetchall())
                digests[table] = hashlib.sha256(rows.encode()).hexdigest()
            return digests
    finally:
        connection.close()


def test_a_what_if_on_postgres_reproduces_differs_and_writes_nothing(
    demo_on_postgres: Ntd, pg_schema: str, tmp_path: Path
) -> None:
    app = demo_on_postgres.app
    before = rows_digest(pg_schema), (tmp_path / "read.db").read_bytes()
    assert before[0], "the demo stored its events in the schema"

    same = what_if(app, proposed_rules(app.rules, "{}"), AUDITOR)
    assert same.happened and same.would == same.happened

    stricter = what_if(app, proposed_rules(app.rules, '{"strikes_to_suspend": 2}'), AUDITOR)
    assert not stricter.same and stricter.sellers()

    assert (rows_digest(pg_schema), (tmp_path / "read.db").read_bytes()) == before
