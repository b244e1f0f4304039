"""A relay killed between the broker's acknowledgement and storing its position sends the
unstored tail again: the same events at new offsets. Every reader of the topics (the projections
and policies consumers, the rebuild from Kafka) applies each event once and counts the copies."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
import pytest
from kafka import KafkaConsumer
from kafka.structs import TopicPartition

from consumers.relay import ensure_topics
from consumers.relay_store import Parked, RelayPositions
from ntd.bootstrap import FixedClock, build, build_relay
from ntd.config import Settings
from ntd.rebuild import rebuild_projections
from tests.integration.conftest import READ_DSN, REPO, settings_env
from tests.integration.history import START, make_history
from tests.integration.kafka_reader import TOPICS, read_all
from tests.integration.test_consumers import TABLES, consume_all, settings_in, tables
from tests.integration.test_relay import stored_published_events


class Killed(BaseException):
    """The relay's process ends here (nothing after it runs, as after SIGKILL)."""


class DiesBeforeStoring:
    """The relay's position store, killed the moment it would store its `after`+1-th page: the
    broker has acknowledged that page (and whatever else was in flight), the position is not."""

    def __init__(self, inner: RelayPositions, after: int) -> None:
        self.inner = inner
        self.after = after

    def load(self, name: str) -> int:
        return self.inner.load(name)

    def advance(self, name: str, position: int, parked: list[Parked]) -> None:
        if self.after == 0:
            raise Killed
        self.after -= 1
        self.inner.advance(name, position, parked)

    def parked(self) -> list[Parked]:
        return self.inner.parked()

    def close(self) -> None:
        self.inner.close()


def relay_killed_after_acks(settings: Settings, pages_stored: int) -> None:
    """Relay in pages of 100; die before storing the position of page `pages_stored` + 1."""
    ntd = build(settings)
    relay = build_relay(ntd, page_size=100, encoder_process=False)
    relay.positions = DiesBeforeStoring(relay.positions, pages_stored)
    try:
        with pytest.raises(Killed):
            relay.run(threading.Event(), until_caught_up=True)
        relay.producer.flush(timeout=30)  # what was sent before the kill is on the broker
    finally:
        relay._drop_producer()
        relay.close()
        ntd.close()


def relay_the_rest(settings: Settings) -> None:
    ntd = build(settings)
    relay = build_relay(ntd, page_size=100, encoder_process=False)
    try:
        relay.run(threading.Event(), until_caught_up=True)
    finally:
        relay.close()
        ntd.close()


@pytest.fixture
def resent(kafka_settings: Settings) -> Iterator[tuple[Settings, int]]:
    """A history whose relay was killed after acknowledgements, then restarted: the topics hold
    every event once, and a tail of them a second time at later offsets."""
    settings = kafka_settings
    clock = FixedClock(START)
    ntd = build(settings, clock=clock)
    make_history(ntd.app, clock, cases=500)
    stored = stored_published_events(ntd)
    ntd.close()
    ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix)
    relay_killed_after_acks(settings, pages_stored=3)
    relay_the_rest(settings)
    messages = read_all(settings.kafka_bootstrap, settings.topic_prefix, on_topics(settings))
    copies = Counter(m.headers["ce_id"] for m in messages)
    assert set(copies) == set(stored)
    twice = sum(n - 1 for n in copies.values())
    assert twice >= 20, f"the restarted relay should have re-sent a page, not {twice} events"
    yield settings, twice


def on_topics(settings: Settings) -> int:
    """How many messages the test's event topics hold."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    try:
        partitions = [
            TopicPartition(settings.topic_prefix + topic, number)
            for topic in TOPICS
            for number in consumer.partitions_for_topic(settings.topic_prefix + topic) or ()
        ]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def consume(settings: Settings, name: str, level: str = "info") -> tuple[int, list[dict[str, Any]]]:
    """`ntd consume NAME --until-caught-up` as a process; its exit code and JSON log lines."""
    process = subprocess.run(
        [sys.executable, "-m", "ntd", "consume", name, "--until-caught-up"],
        env={**settings_env(settings), "NTD_LOG_LEVEL": level},
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    lines = []
    for line in process.stderr.decode().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            lines.append({"event": line})
    return process.returncode, lines


def other_schema(settings: Settings, suffix: str) -> Settings:
    schema = f"{settings.topic_prefix.rstrip('.')}_{suffix}"
    with psycopg2.connect(READ_DSN) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
    return settings_in(settings, schema)


def drop_schema(settings: Settings) -> None:
    schema = settings.read_dsn.rpartition("search_path%3D")[2]
    with psycopg2.connect(READ_DSN) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def read_schema_of(settings: Settings) -> str:
    return settings.read_dsn.rpartition("search_path%3D")[2]


@contextmanager
def rebuilt_from_the_store(settings: Settings) -> Iterator[Settings]:
    """The views rebuilt from the event store into a schema of their own (dropped after)."""
    from_store = other_schema(settings, "store")
    try:
        clean = build(from_store)
        try:
            rebuild_projections(clean, "store")
            assert clean.read_store.verify_audit().ok
        finally:
            clean.close()
        yield from_store
    finally:
        drop_schema(from_store)


def assert_same_views(settings: Settings, reference: Settings) -> None:
    live, rebuilt = tables(read_schema_of(settings)), tables(read_schema_of(reference))
    for table in TABLES:
        assert live[table] == rebuilt[table], table


def test_the_projections_consumer_applies_each_resent_event_once_and_counts_the_copies(
    resent: tuple[Settings, int],
) -> None:
    settings, twice = resent
    code, log = consume(settings, "projections")
    assert code == 0, log[-5:]
    stopped = next(line for line in log if line.get("event") == "consumer.stopped")
    assert stopped["duplicates"] == twice
    assert stopped["dead_letters"] == 0
    assert not [line for line in log if line.get("event") == "consumer.rejected"]

    with rebuilt_from_the_store(settings) as from_store:
        assert_same_views(settings, from_store)


def test_a_rebuild_from_kafka_over_resent_events_equals_a_rebuild_from_the_store(
    resent: tuple[Settings, int],
) -> None:
    settings, twice = resent
    with rebuilt_from_the_store(settings) as from_store:
        for workers in ("1", "2"):
            process = subprocess.run(
                [sys.executable, "-m", "ntd", "projections", "rebuild", "--all"]
                + ["--from", "kafka", "--workers", workers],
                env=settings_env(settings),
                cwd=REPO,
                capture_output=True,
                timeout=120,
            )
            out = process.stdout.decode() + process.stderr.decode()
            assert process.returncode == 0, out[-3000:]
            assert "Traceback" not in out
            assert f"{twice} re-sent events skipped" in out, out[-2000:]
            assert_same_views(settings, from_store)


def test_the_policies_consumer_handles_each_resent_event_once(
    resent: tuple[Settings, int],
) -> None:
    settings, twice = resent
    code, log = consume(settings, "policies", level="debug")
    assert code == 0, log[-5:]
    stopped = next(line for line in log if line.get("event") == "consumer.stopped")
    assert stopped["duplicates"] == twice
    assert stopped["dead_letters"] == 0
    decisions = Counter(
        (line["command"], line["cause"])
        for line in log
        if line.get("event") in ("policy.acted", "policy.already_done", "policy.refused")
    )
    assert decisions, "the history should give the policies something to decide"
    twice_decided = [decision for decision, n in decisions.items() if n > 1]
    assert twice_decided == [], "a re-sent event reached the policies again"


def test_consuming_resent_events_through_the_relay_then_the_restart_gives_the_store_s_views(
    kafka_settings: Settings,
) -> None:
    """The consumer reads the first copies before the re-sent ones exist, as in production."""
    settings = kafka_settings
    clock = FixedClock(START)
    ntd = build(settings, clock=clock)
    make_history(ntd.app, clock, cases=300)
    ntd.close()
    ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix)
    relay_killed_after_acks(settings, pages_stored=2)
    ntd = build(settings)
    try:
        first = consume_all(ntd)
        relay_the_rest(settings)
        second = consume_all(ntd)
        assert first > 0 and second > 0
        assert ntd.read_store.verify_audit().ok
    finally:
        ntd.close()
    with rebuilt_from_the_store(settings) as from_store:
        assert_same_views(settings, from_store)
