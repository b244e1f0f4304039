"""`ntd transparency` on PostgreSQL (event store and read models): a small demo's statements all
pass the Transparency Database's rules and its archive holds every notice, as on SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.values import Actor
from ntd.bootstrap import Ntd, build
from ntd.config import Settings
from ntd.demo import run_demo
from ntd.reads import catch_up
from ntd.transparency import source
from ntd.transparency.archive import Pseudonyms, notices
from ntd.transparency.statements import Skipped, Statement, statements
from projections.models import AuditQuery
from tests.integration.conftest import EVENTS_DSN, read_dsn
from tests.unit import sor_rules

AUDITOR = Actor.parse("agent:audit.kim")


@pytest.fixture
def demo_on_postgres(tmp_path: Path, pg_schema: str, read_schema: str) -> Iterator[Ntd]:
    settings = Settings(
        data_dir=tmp_path,
        event_store="postgres",
        events_dsn=EVENTS_DSN,
        events_schema=pg_schema,
        read_dsn=read_dsn(read_schema),
    )
    run_demo(settings, size=0.05, seed=11)
    system = build(settings)
    yield system
    system.close()


def test_every_statement_from_postgres_passes_the_rules(demo_on_postgres: Ntd) -> None:
    made = list(statements(source.rows(demo_on_postgres, AUDITOR, catch_up)))
    assert made and not [m for m in made if isinstance(m, Skipped)]
    exported = [m.public() for m in made if isinstance(m, Statement)]
    assert any("decision_account" in s for s in exported)  # the suspensions too
    for statement in exported:
        assert sor_rules.problems(statement) == [], statement["puid"]


def test_the_archive_from_postgres_has_every_notice(demo_on_postgres: Ntd) -> None:
    records = list(notices(source.rows(demo_on_postgres, AUDITOR, catch_up), Pseudonyms(b"k" * 32)))
    listings = sum(r["counts"]["listings"] for r in records)
    filed = demo_on_postgres.read_store.audit_query(AuditQuery(event_type="filed"))
    assert listings == sum(1 for _ in filed) > 0
    assert json.loads(json.dumps(records)) == records
