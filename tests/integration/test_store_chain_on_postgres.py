"""The PostgreSQL event store's hash chain (issue 15, item 1): links computed by the insert
function under its table lock, so concurrent writers leave no gap, and a store written before
the chain is chained by migration."""

from __future__ import annotations

import threading
from pathlib import Path
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


def test_a_checkpoint_is_signed_stored_and_published_to_kafka(
    pg_settings: Settings, tmp_path: Path
) -> None:
    import dataclasses
    import json

    from kafka import KafkaConsumer

    from consumers.topics import CHECKPOINT_TOPIC
    from ntd.signing import create_key, public_text

    key_file = tmp_path / "keys" / "signing.key"
    public = public_text(create_key(key_file).public_key())
    settings = dataclasses.replace(pg_settings, feed="kafka", signing_key=key_file)
    ntd = build(settings)
    try:
        ntd.app.recorder.insert_events(_events(3))
        made = evidence.write_checkpoint(ntd, force=True)
        assert made is not None and made.position == evidence.chain_status(ntd).last
        assert evidence.checkpoints(ntd) == [made]
        assert evidence.write_checkpoint(ntd) is None  # nothing newer to sign
    finally:
        ntd.close()
    consumer = KafkaConsumer(
        settings.topic_prefix + CHECKPOINT_TOPIC,
        bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )
    try:
        [message] = [m for m in consumer]
    finally:
        consumer.close()
    assert message.key == public.encode()
    assert json.loads(message.value) == json.loads(made.to_json())
