"""`ntd consume projections` against the real Kafka and PostgreSQL: figures, crashes, redelivery
and dead letters."""

from __future__ import annotations

import dataclasses
import math
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import psycopg2
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from consumers.envelope import decode
from consumers.projector import ProjectionSink
from consumers.relay import ensure_topics
from consumers.sink import Consumed
from consumers.topics import DEAD_LETTER_TOPIC
from domain.case import Case
from domain.catalog import aggregate_type
from domain.rules import Rules
from domain.values import DomainEvent
from ntd.bootstrap import FixedClock, Ntd, build, build_consumer, build_relay, open_read_store
from ntd.config import Settings
from ntd.rebuild import rebuild_projections
from projections import AuditQuery
from projections.tracking import Span
from tests.integration.conftest import READ_DSN, REPO, read_dsn, settings_env
from tests.integration.history import AGENT, START, make_history
from tests.unit.dashboard_oracle import dashboard_from_events

TABLES = (
    "read_cases",
    "read_deadlines",
    "read_breaches",
    "read_notifiers",
    "read_audit",
    "read_audit_chains",
)


# -- helpers (test_rebuild.py uses them too) ---------------------------------------------------


def history_on_kafka(settings: Settings, cases: int, seed: int = 7) -> tuple[Ntd, FixedClock]:
    """ntd with a generated history in its event store, relayed to the test's topics."""
    clock = FixedClock(START)
    ntd = build(settings, clock=clock)
    make_history(ntd.app, clock, cases=cases, seed=seed)
    relay_all(ntd)
    return ntd, clock


def relay_all(ntd: Ntd) -> None:
    """Put everything stored so far on Kafka."""
    settings = ntd.settings
    ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix)
    relay = build_relay(ntd)
    try:
        relay.run(threading.Event(), until_caught_up=True)
    finally:
        relay.close()


def consume_all(ntd: Ntd, timeout: float = 60) -> int:
    """Run the projections consumer in this process until it has applied every record."""
    loop = build_consumer(ntd, "projections", lag_interval=60)
    stop = threading.Event()
    worker = threading.Thread(target=loop.run, args=(stop,), kwargs={"until_caught_up": True})
    worker.start()
    worker.join(timeout)
    in_time = not worker.is_alive()
    stop.set()
    worker.join(30)
    loop.sink.close()
    assert in_time, f"the consumer had not caught up after {timeout}s"
    return loop.records


def stored_events(ntd: Ntd) -> list[tuple[int, DomainEvent]]:
    """Every published event in the event store, with its notification id."""
    notifications = ntd.app.recorder.select_notifications(start=1, limit=10**9)
    events = [(n.id, cast(DomainEvent, ntd.app.mapper.to_domain_event(n))) for n in notifications]
    return [(seq, e) for seq, e in events if aggregate_type(type(e)) is not None]


def tables(schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every view table's rows in a read schema, ordered by every column."""
    connection = psycopg2.connect(READ_DSN, options=f"-c search_path={schema}")
    try:
        with connection.cursor() as cursor:
            found = {}
            for table in TABLES:
                cursor.execute(f"SELECT * FROM {table}")
                width = len(cursor.description)
                order = ", ".join(str(i) for i in range(1, width + 1))
                cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
                found[table] = cursor.fetchall()
            return found
    finally:
        connection.close()


def offsets(schema: str) -> dict[tuple[str, int], int]:
    """The projections consumer's stored offsets, partitions left at 0 omitted."""
    connection = psycopg2.connect(READ_DSN, options=f"-c search_path={schema}")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT topic, partition, next_offset FROM ntd_consumer_offsets"
                " WHERE consumer = 'projections' AND next_offset > 0"
            )
            return {(t, p): o for t, p, o in cursor.fetchall()}
    finally:
        connection.close()


def audit_rows(schema: str) -> int:
    connection = psycopg2.connect(READ_DSN, options=f"-c search_path={schema}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('read_audit')")
            if cursor.fetchone()[0] is None:
                return 0
            cursor.execute("SELECT COUNT(*) FROM read_audit")
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


def clean_rebuild(settings: Settings, schema: str) -> None:
    """The views rebuilt from Kafka's topics into another read schema."""
    clean = build(settings_in(settings, schema))
    try:
        rebuild_projections(clean, "kafka")
    finally:
        clean.close()


def settings_in(settings: Settings, schema: str) -> Settings:
    """The same settings with the read models in another schema."""
    return dataclasses.replace(settings, read_dsn=read_dsn(schema))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_records(settings: Settings) -> list[Consumed]:
    """Every record on the test's event topics, decoded, read without a group."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False
    )
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in (f"{settings.topic_prefix}ntd.{a}.v1" for a in ("case", "notifier"))
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        found: list[Consumed] = []
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                found += [
                    Consumed(tp.topic, tp.partition, r.offset, decode(r.value, r.headers))
                    for r in records
                ]
        return found
    finally:
        consumer.close()


def spans_of(records: list[Consumed]) -> dict[tuple[str, int], Span]:
    by_partition: dict[tuple[str, int], list[int]] = defaultdict(list)
    for r in records:
        by_partition[(r.topic, r.partition)].append(r.offset)
    return {p: Span(min(o), max(o) + 1) for p, o in by_partition.items()}


# -- the dashboard, end to end -----------------------------------------------------------------


def figures(found: dict[str, Any]) -> dict[str, Any]:
    """A dashboard's figures with the trusted-lane ones flattened (`qualifies` left out)."""
    found = dict(found)
    trusted = found.pop("trusted")
    for key in ("notices", "decided", "taken_down", "reversed", "takedown_share"):
        found[f"trusted_{key}"] = trusted[key]
    found["trusted_reversal_share"] = trusted["reversal_share"]
    found["in_trusted_lane"] = trusted["in_trusted_lane"]
    return found


def test_dashboard_figures_fed_through_kafka_equal_figures_computed_from_the_raw_events(
    kafka_settings: Settings,
) -> None:
    ntd, _ = history_on_kafka(kafka_settings, cases=600)
    try:
        consumed = consume_all(ntd)
        events = stored_events(ntd)
        assert consumed == len(events) > 2000
        now = START + timedelta(days=40)
        notifiers = {e.notifier_id for _, e in events if isinstance(e, Case.Filed)}
        assert len(notifiers) == 2
        for notifier_id in notifiers:
            actual = figures(ntd.read_store.dashboard(notifier_id, now, Rules()).model_dump())
            in_lane = ntd.app.notifier(notifier_id, AGENT).in_trusted_lane
            expected = figures(
                dashboard_from_events(
                    [e for _, e in events],
                    notifier_id,
                    now,
                    Rules(),
                    lambda case_id: ntd.app.case(case_id, AGENT),
                    in_lane,
                )
            )
            for key, value in expected.items():
                if isinstance(value, float):
                    assert actual[key] == value or math.isclose(actual[key], value), key
                else:
                    assert actual[key] == value, key
        assert ntd.read_store.verify_audit().ok
    finally:
        ntd.close()


# -- crashes and redelivery --------------------------------------------------------------------


def start_consumer(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ntd", "consume", "projections", *args],
        env=settings_env(settings),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_consumer_killed_mid_batch_and_restarted_leaves_read_models_identical_to_a_rebuild(
    kafka_settings: Settings, read_schema: str
) -> None:
    ntd, _ = history_on_kafka(kafka_settings, cases=1200)
    expected = len(stored_events(ntd))
    ntd.close()
    kills = []
    for fraction in (0.2, 0.55):
        process = start_consumer(kafka_settings, "--batch-size", "40", "--instance-id", "it-1")
        wanted = fraction * expected
        try:
            wait_for(lambda: audit_rows(read_schema) >= wanted, 40, "batches")  # noqa: B023
        finally:
            process.send_signal(signal.SIGKILL)
            _, stderr = process.communicate(timeout=10)
        assert process.returncode == -signal.SIGKILL, stderr.decode()[-3000:]
        kills.append(audit_rows(read_schema))
    assert 0 < kills[0] <= kills[1] < expected, kills

    process = start_consumer(kafka_settings, "--until-caught-up", "--instance-id", "it-1")
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr.decode()[-2000:]

    clean = f"{read_schema}_clean"
    with psycopg2.connect(READ_DSN) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {clean}")
    try:
        clean_rebuild(kafka_settings, clean)
        live, rebuilt = tables(read_schema), tables(clean)
        assert {t: len(rows) for t, rows in live.items()}["read_audit"] == expected
        for table in TABLES:
            assert live[table] == rebuilt[table], table
        assert offsets(read_schema) == offsets(clean)
    finally:
        with psycopg2.connect(READ_DSN) as connection, connection.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA {clean} CASCADE")


def test_reconsuming_batches_already_applied_changes_nothing(
    kafka_settings: Settings, read_schema: str
) -> None:
    ntd, _ = history_on_kafka(kafka_settings, cases=300)
    ntd.close()
    records = read_records(kafka_settings)
    sink = ProjectionSink(open_read_store(kafka_settings.read_dsn))
    try:
        by_partition = sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
        first, second = by_partition[: len(records) // 2], by_partition[len(records) // 2 :]
        sink.apply(first, spans_of(first))
        sink.apply(second, spans_of(second))
        applied = tables(read_schema)
        stored = offsets(read_schema)

        sink.apply(first, spans_of(first))
        sink.apply(records, spans_of(records))
        sink.apply(second[:10], spans_of(second[:10]))

        assert tables(read_schema) == applied
        assert offsets(read_schema) == stored
        assert len(applied["read_audit"]) == len(records)
    finally:
        sink.close()


# -- dead letters ------------------------------------------------------------------------------


def read_dead_letters(settings: Settings, expected: int) -> list[Any]:
    consumer = KafkaConsumer(
        settings.topic_prefix + DEAD_LETTER_TOPIC,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    found: list[Any] = []
    deadline = time.monotonic() + 20
    try:
        while len(found) < expected and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                found += records
    finally:
        consumer.close()
    return found


def test_a_malformed_message_lands_in_the_dead_letter_topic_and_the_consumer_goes_on(
    kafka_settings: Settings,
) -> None:
    settings = kafka_settings
    ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix)
    case_topic = settings.topic_prefix + "ntd.case.v1"
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    producer.send(case_topic, key=b"k", value=b"\x00 not json at all", partition=0)
    producer.send(
        case_topic,
        key=b"k",
        value=b'{"originator_id": "nope", "listing": 42}',
        partition=0,
        headers=[
            ("ce_specversion", b"1.0"),
            ("ce_id", b"nope:1"),
            ("ce_source", b"urn:ntd:enforcement"),
            ("ce_type", b"ntd.case.filed.v1"),
            ("ntd_notification_id", b"1"),
        ],
    )
    producer.flush()
    producer.close()
    ntd, _ = history_on_kafka(settings, cases=100)
    try:
        consume_all(ntd)
        events = stored_events(ntd)
        letters = read_dead_letters(settings, 2)
        assert len(letters) == 2
        reasons = []
        for letter in letters:
            headers = {k: v.decode() for k, v in letter.headers}
            assert headers["dlq_topic"] == case_topic
            assert headers["dlq_partition"] == "0"
            assert headers["dlq_consumer"] == "projections"
            reasons.append((headers["dlq_offset"], headers["dlq_reason"]))
        assert [offset for offset, _ in sorted(reasons)] == ["0", "1"]
        assert "missing CloudEvents header" in sorted(reasons)[0][1]
        assert "ntd.case.filed.v1 payload invalid" in sorted(reasons)[1][1]
        assert letters[1].value == b'{"originator_id": "nope", "listing": 42}'
        rows = list(ntd.read_store.audit_query(AuditQuery()))
        assert [row.seq for row in rows] == [seq for seq, _ in events]
        assert ntd.read_store.verify_audit().ok
    finally:
        ntd.close()
