"""The PostgreSQL write path: one function call a save, all or nothing, ids in log order,
surviving a dropped connection and a store set up before the function existed."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
from eventsourcing.persistence import (
    IntegrityError,
    OperationalError,
    PersistenceError,
    StoredEvent,
)

from domain.notice import parse_notice
from domain.notifier import Notifier, NotifierKind
from ntd import event_writer
from ntd.bootstrap import Ntd, build
from ntd.config import Settings
from ntd.event_writer import PostgresOutboxRecorder
from tests.unit.domain_fixtures import AGENT, BRAND_USER, grant_cast, notice_data, register_brand

from .conftest import EVENTS_DSN

START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _recorder(ntd: Ntd) -> PostgresOutboxRecorder:
    recorder = ntd.app.recorder
    assert isinstance(recorder, PostgresOutboxRecorder)
    return recorder


def _execute(statement: str) -> None:
    connection = psycopg2.connect(EVENTS_DSN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(statement)
    connection.close()


def test_a_save_returns_its_notification_ids_in_log_order(pg_ntd: Ntd) -> None:
    grant_cast(pg_ntd.app)
    notifier, right = register_brand(pg_ntd.app)
    notice = parse_notice(notice_data(notifier, right, listings=5))
    receipt = pg_ntd.app.file_notice(notice, BRAND_USER)
    log = pg_ntd.app.recorder.select_notifications(start=1, limit=100)
    stored = [pg_ntd.app.mapper.to_stored_event(e) for e in _two_notifiers()]

    ids = _recorder(pg_ntd).insert_events(stored)

    assert len(receipt.cases) == 5
    assert ids == [log[-1].id + 1, log[-1].id + 2]
    after = pg_ntd.app.recorder.select_notifications(start=log[-1].id + 1, limit=10)
    assert [(n.originator_id, n.state) for n in after] == [
        (s.originator_id, s.state) for s in stored
    ]


def test_a_save_with_one_taken_version_stores_nothing(pg_ntd: Ntd) -> None:
    first, second = (pg_ntd.app.mapper.to_stored_event(e) for e in _two_notifiers())
    recorder = _recorder(pg_ntd)
    recorder.insert_events([first])
    head = recorder.max_notification_id()

    with pytest.raises(IntegrityError):
        recorder.insert_events([second, first])

    assert recorder.max_notification_id() == head
    assert recorder.select_events(second.originator_id) == []
    recorder.insert_events([second])  # the connection is usable after the refusal
    assert len(recorder.select_events(second.originator_id)) == 1


def test_a_dropped_connection_is_opened_again(pg_ntd: Ntd) -> None:
    recorder = _recorder(pg_ntd)
    first, second = (pg_ntd.app.mapper.to_stored_event(e) for e in _two_notifiers())
    recorder.insert_events([first])
    backend = recorder._connection.get_backend_pid()
    _execute(f"SELECT pg_terminate_backend({backend})")

    recorder.insert_events([second])

    assert recorder._connection.get_backend_pid() != backend
    assert len(recorder.select_events(second.originator_id)) == 1


def test_a_save_that_committed_before_its_connection_dropped_is_done_not_a_conflict(
    pg_ntd: Ntd,
) -> None:
    recorder = _recorder(pg_ntd)
    first, second = (pg_ntd.app.mapper.to_stored_event(e) for e in _two_notifiers())
    ids = recorder.insert_events([first, second])
    other = StoredEvent(first.originator_id, 1, second.topic, second.state)  # "Two", not "One"

    _execute(f"SELECT pg_terminate_backend({recorder._connection.get_backend_pid()})")
    again = recorder.insert_events([first, second])  # as if the reply had been lost
    _execute(f"SELECT pg_terminate_backend({recorder._connection.get_backend_pid()})")
    with pytest.raises(IntegrityError):
        recorder.insert_events([other])  # the same key with other content is a conflict

    assert again == ids


def test_an_unreachable_database_raises_the_library_error(
    pg_ntd: Ntd, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = _recorder(pg_ntd)
    monkeypatch.setattr(event_writer, "ATTEMPTS", 2)
    monkeypatch.setitem(recorder.datastore.pool.kwargs, "port", _free_port())  # type: ignore[index]
    recorder.close()
    stored = pg_ntd.app.mapper.to_stored_event(_two_notifiers()[0])

    with pytest.raises(PersistenceError) as raised:
        recorder.insert_events([stored])

    assert isinstance(raised.value, OperationalError)


def test_a_store_set_up_before_the_function_still_takes_saves(pg_settings: Settings) -> None:
    ntd = build(pg_settings)
    function = f"{pg_settings.events_schema}.ntd_insert_{_recorder(ntd).events_table_name}"
    signature = f"{function}(uuid[], bigint[], text[], bytea[])"
    _execute(f"DROP FUNCTION {signature}")
    try:
        grant_cast(ntd.app)
        notifier, right = register_brand(ntd.app)
        notice = parse_notice(notice_data(notifier, right, listings=2))
        receipt = ntd.app.file_notice(notice, BRAND_USER)
        assert [c.case_id for c in receipt.cases] == [
            ntd.app.case(c.case_id, AGENT).id for c in receipt.cases
        ]
    finally:
        ntd.close()
    assert not _function_exists(signature)
    again = build(pg_settings)  # setting the store up again restores the function
    try:
        assert _function_exists(signature)
        first, _ = (again.app.mapper.to_stored_event(e) for e in _two_notifiers())
        assert _recorder(again).insert_events([first])
    finally:
        again.close()


def _two_notifiers() -> list[Any]:
    registered = [
        Notifier.register(name, NotifierKind.BRAND, "l@x.example", AGENT, START)
        for name in ("One", "Two")
    ]
    return [notifier.collect_events()[0] for notifier in registered]


def _function_exists(signature: str) -> bool:
    connection = psycopg2.connect(EVENTS_DSN)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", (signature,))
        (exists,) = cursor.fetchone()
    connection.close()
    return bool(exists)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
