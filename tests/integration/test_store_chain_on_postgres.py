"""The PostgreSQL event store's hash chain (issue 15, item 1): links computed by the insert
function under its table lock, so concurrent writers leave no gap, and a store written before
the chain is chained by migration."""

from __future__ import annotations

import threading
from uuid import uuid4

import psycopg2
from eventsourcing.persistence import StoredEvent
from psycopg2 import sql

from ntd import evidence
from ntd.bootstrap import Ntd, build
from ntd.config import Settings

from .conftest import EVENTS_DSN


def _events(count: int) -> list[StoredEvent]:
    return [StoredEvent(uuid4(), 1, "ntd.bench:Saved", b'{"n": %d}' % n) for n in range(count)]


def _execute(schema: str, statement: str) -> None:
    connection = psycopg2.connect(EVENTS_DSN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL(statement).format(sql.Identifier(schema)))
    connection.close()


def test_concurrent_writers_leave_no_gap_in_the_chain(pg_ntd: Ntd, pg_settings: Settings) -> None:
    writers = [build(pg_settings) for _ in range(4)]
    try:

        def write(ntd: Ntd) -> None:
            for _ in range(40):
                ntd.app.recorder.insert_events(_events(2))

        threads = [threading.Thread(target=write, args=(w,)) for w in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for w in writers:
            w.close()

    status = evidence.chain_status(pg_ntd)
    report = evidence.walk_store(pg_ntd)
    assert status.events == status.links == 320
    assert report.ok and report.events == 320, report.broken


def test_a_store_written_before_the_chain_is_chained_by_migration(
    pg_ntd: Ntd, pg_schema: str
) -> None:
    pg_ntd.app.recorder.insert_events(_events(3))
    _execute(pg_schema, "DELETE FROM {}.ntd_events_chain")
    pg_ntd.app.recorder.insert_events(_events(2))  # stays unchained until migrated

    before = evidence.walk_store(pg_ntd)
    assert before.broken is not None and before.broken.position == 1
    assert "--migrate" in before.broken.problem

    assert evidence.migrate_chain(pg_ntd) == 5
    pg_ntd.app.recorder.insert_events(_events(2))
    after = evidence.walk_store(pg_ntd)
    assert after.ok and after.events == 7
