"""`ntd projections rebuild` against the real Kafka and PostgreSQL: whole views under concurrent
queries, a running consumer that goes on from the rebuild, and the command line."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

from consumers.replay import TopicReplay
from domain.catalog import is_published
from domain.rules import Rules
from ntd.bootstrap import Ntd, build_consumer, open_read_store
from ntd.config import Settings
from ntd.rebuild import PROJECTIONS, rebuild_projections
from projections import AuditQuery, ReadStore
from projections.rebuild import Positions, rebuild
from tests.integration.conftest import READ_DSN, REPO, settings_env
from tests.integration.history import AGENT, START, make_history
from tests.integration.test_consumers import (
    TABLES,
    clean_rebuild,
    consume_all,
    history_on_kafka,
    offsets,
    relay_all,
    tables,
    wait_for,
)


def answers(store: ReadStore, notifier_ids: list[Any]) -> tuple[Any, ...]:
    """What a reader asks, each question answered in one transaction of its own (so each
    answer, not the tuple, comes from one view): the notifiers, the audit verification, the
    audit row count, then one dashboard per notifier."""
    return (
        store.notifiers(),
        store.verify_audit(),
        sum(1 for _ in store.audit_query(AuditQuery())),
        *(store.dashboard(n, START, Rules()) for n in notifier_ids),
    )


class Reader(threading.Thread):
    """Asks the same questions over and over, keeping every answer in order."""

    def __init__(self, dsn: str, notifier_ids: list[Any], stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.store = open_read_store(dsn)
        self.notifier_ids = notifier_ids
        self.stop = stop
        self.seen: list[tuple[Any, ...]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.seen.append(answers(self.store, self.notifier_ids))
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.store.close()


def test_queries_during_a_rebuild_answer_from_the_old_views_or_the_new_ones_never_a_mix(
    kafka_settings: Settings,
) -> None:
    ntd, clock = history_on_kafka(kafka_settings, cases=300)
    try:
        consume_all(ntd)
        make_history(ntd.app, clock, cases=300, seed=8)  # new notifiers, not consumed yet
        relay_all(ntd)
        notifier_ids = _notifier_ids(ntd)
        old = answers(ntd.read_store, notifier_ids)
        readers, stop = _readers(kafka_settings.read_dsn, notifier_ids, 3)
        try:
            rebuild_projections(ntd, "kafka")
            wait_for(
                lambda: all(r.error or r.seen[-1][0] != old[0] for r in readers),
                20,
                "the new views",
            )
        finally:
            stop.set()
            for reader in readers:
                reader.join(timeout=20)
        new = answers(ntd.read_store, notifier_ids)
    finally:
        ntd.close()

    assert new != old and new[1].ok and new[1].rows > old[1].rows
    for reader in readers:
        assert reader.error is None, repr(reader.error)
        kinds = [
            "old" if answer == old[i] else "new" if answer == new[i] else f"MIXED {i}"
            for seen in reader.seen
            for i, answer in enumerate(seen)
            if old[i] != new[i]  # a question the rebuild does not change tells nothing
        ]
        assert all(kind in ("old", "new") for kind in kinds), set(kinds)
        assert kinds[0] == "old" and kinds[-1] == "new"
        assert kinds == sorted(kinds, key=lambda kind: kind == "new"), "went back to old"


def _readers(dsn: str, notifier_ids: list[Any], count: int) -> tuple[list[Reader], threading.Event]:
    """Readers started and under way."""
    stop = threading.Event()
    readers = [Reader(dsn, notifier_ids, stop) for _ in range(count)]
    for reader in readers:
        reader.start()
    wait_for(lambda: all(len(r.seen) >= 2 for r in readers), 20, "readers under way")
    return readers, stop


def _notifier_ids(ntd: Any) -> list[Any]:
    """Every notifier in the event store, whether or not the views know it yet."""
    from domain.notifier import Notifier

    found = []
    for notification in ntd.app.recorder.select_notifications(start=1, limit=10**9):
        if notification.topic.endswith("Notifier.Registered"):
            found.append(notification.originator_id)
    assert found and all(isinstance(ntd.app.notifier(n, AGENT), Notifier) for n in found)
    return found


def test_a_running_consumer_goes_on_from_where_a_rebuild_ended(
    kafka_settings: Settings, read_schema: str
) -> None:
    ntd, clock = history_on_kafka(kafka_settings, cases=300)
    stop = threading.Event()
    loop = build_consumer(ntd, PROJECTIONS, lag_interval=60)
    worker = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    worker.start()
    try:
        expected = _last_published(ntd)
        wait_for(lambda: _applied_through(ntd.read_store) >= expected, 30, "the first history")
        replay = TopicReplay(kafka_settings.kafka_bootstrap, kafka_settings.topic_prefix).open()
        make_history(ntd.app, clock, cases=200, seed=9)  # after the rebuild's ends
        relay_all(ntd)
        expected = _last_published(ntd)
        wait_for(lambda: _applied_through(ntd.read_store) >= expected, 30, "the second history")
        try:
            rebuild(ntd.read_store, replay.chunks(), Positions(0, PROJECTIONS, replay.offsets))
        finally:
            replay.close()
        assert _applied_through(ntd.read_store) < expected  # the views went back to the ends
        wait_for(lambda: _applied_through(ntd.read_store) >= expected, 30, "the consumer again")
    finally:
        stop.set()
        worker.join(timeout=20)
        loop.sink.close()
        ntd.close()
    assert not worker.is_alive()

    clean = f"{read_schema}_clean"
    _schema(clean, "CREATE")
    try:
        clean_rebuild(kafka_settings, clean)
        live, rebuilt = tables(read_schema), tables(clean)
        for table in TABLES:
            assert live[table] == rebuilt[table], table
        assert offsets(read_schema) == offsets(clean)
    finally:
        _schema(clean, "DROP")


def _last_published(ntd: Ntd) -> int:
    """The notification id of the last published event (internal ones never reach the trail:
    a claim released with a resolved case, a grant)."""
    last, start = 0, 1
    while page := ntd.app.recorder.select_notifications(start=start, limit=1000):
        last = max((n.id for n in page if is_published(n.topic)), default=last)
        start = page[-1].id + 1
    return last


def _applied_through(store: ReadStore) -> int:
    """The highest notification id in the audit trail (0 when empty)."""
    rows = list(store.audit_query(AuditQuery()))
    return rows[-1].seq if rows else 0


def _schema(name: str, verb: str) -> None:
    import psycopg2

    from tests.integration.conftest import READ_DSN

    connection = psycopg2.connect(READ_DSN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"{verb} SCHEMA {name}" + (" CASCADE" if verb == "DROP" else ""))
    connection.close()


def test_the_rebuild_command_replays_kafka_into_views_equal_to_those_consumed(
    kafka_settings: Settings, read_schema: str
) -> None:
    ntd, _ = history_on_kafka(kafka_settings, cases=150)
    try:
        consume_all(ntd)
    finally:
        ntd.close()
    consumed = tables(read_schema)
    stored = offsets(read_schema)

    result = subprocess.run(
        [sys.executable, "-m", "ntd", "projections", "rebuild", "--all"],
        env=settings_env(kafka_settings),
        cwd=REPO,
        capture_output=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.decode().startswith("rebuilt projections from kafka: ")
    assert "events/s" in result.stdout.decode()
    assert tables(read_schema) == consumed
    assert offsets(read_schema) == stored
    store = open_read_store(kafka_settings.read_dsn)
    try:
        assert store.verify_audit().ok
    finally:
        store.close()


@pytest.mark.parametrize("source", ["kafka", "store"])
def test_a_rebuild_in_parallel_processes_gives_the_views_one_process_gives(
    kafka_settings: Settings, read_schema: str, source: str
) -> None:
    ntd, _ = history_on_kafka(kafka_settings, cases=300)
    try:
        rebuild_projections(ntd, source, workers=1)
        one = tables(read_schema), offsets(read_schema), _watermark(read_schema)
        report = rebuild_projections(ntd, source, workers=3)
    finally:
        ntd.close()
    assert (tables(read_schema), offsets(read_schema), _watermark(read_schema)) == one
    assert report.events == len(one[0]["read_audit"]) and report.left_out == 0
    assert report.workers == 3


def _watermark(schema: str) -> int:
    """The notification id up to which the views hold the log."""
    import psycopg2

    connection = psycopg2.connect(READ_DSN, options=f"-c search_path={schema}")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(last_seq) FROM read_position")
            return int(cursor.fetchone()[0] or 0)
    finally:
        connection.close()
