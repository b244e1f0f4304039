"""Catching up from the application's log, and what the SQL adapter promises about transactions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.rules import Rules
from ntd.bootstrap import open_read_store
from projections import AuditQuery, ReadStore, catch_up
from projections.memory import MemoryReadStore
from projections.models import CaseQuery
from projections.rebuild import Positions, rebuild
from projections.sql import SqlReadStore
from projections.sql.schema import ADDED_COLUMNS
from tests.unit.projection_fixtures import Adapter, History, adapter_for, build_history, opened

SQL_ADAPTERS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.integration))


@pytest.fixture
def small(tmp_path: Path) -> History:
    """A short history in a SQLite event store, as the embedded default keeps it."""
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "ev.db")}
    return build_history(seed=5, rounds=120, env=env)


@pytest.fixture(params=SQL_ADAPTERS)
def sql_adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Adapter:
    return adapter_for(request.param, tmp_path)


@pytest.fixture
def sql_store(sql_adapter: Adapter) -> Iterator[ReadStore]:
    yield from opened(sql_adapter)


def test_catch_up_reads_a_sqlite_event_store_page_by_page_and_reports_progress(
    small: History,
) -> None:
    store = MemoryReadStore()
    calls: list[tuple[int, int]] = []
    applied = catch_up(small.app, store, page_size=50, progress=lambda *call: calls.append(call))
    total = small.last_id()
    assert applied == total == store.position()
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})
    assert len(calls) == -(-total // 50)
    assert len(list(store.audit_query(AuditQuery()))) > 0


def test_catch_up_resumes_where_the_store_stopped_and_reports_progress_from_there(
    small: History,
) -> None:
    store = MemoryReadStore()
    first = catch_up(small.app, store)
    assert catch_up(small.app, store) == 0
    for _ in range(30):
        small.file("Acme", listings=2)
    added = small.last_id() - first
    calls: list[tuple[int, int]] = []
    assert catch_up(small.app, store, page_size=40, progress=lambda *c: calls.append(c)) == added
    assert store.position() == small.last_id()
    assert calls[0] == (40, added) and calls[-1] == (added, added)


def test_catch_up_stops_at_the_last_notification_it_saw_when_it_started(small: History) -> None:
    store = MemoryReadStore()
    total = small.last_id()

    def meanwhile(done: int, of: int) -> None:
        if done == of:
            small.file("Globex")  # written while catching up

    assert catch_up(small.app, store, page_size=100, progress=meanwhile) == total
    assert store.position() == total < small.last_id()


def test_catch_up_of_an_empty_log_applies_nothing(tmp_path: Path) -> None:
    from domain.application import NtdApplication

    store = MemoryReadStore()
    assert catch_up(NtdApplication(), store) == 0
    assert store.position() == 0


# -- opening stores ----------------------------------------------------------------------------


def test_a_sqlite_store_creates_its_folder_and_keeps_rows_and_position_when_reopened(
    small: History, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path / 'nested' / 'data' / 'read.db'}"
    store = open_read_store(url)
    catch_up(small.app, store)
    before = (store.position(), store.notifiers(), list(store.audit_query(AuditQuery())))
    store.close()
    again = open_read_store(url)
    after = (again.position(), again.notifiers(), list(again.audit_query(AuditQuery())))
    assert after == before
    assert again.verify_audit().ok
    again.close()


def test_open_read_store_knows_memory_and_refuses_what_it_does_not_know() -> None:
    assert isinstance(open_read_store("memory:"), MemoryReadStore)
    assert isinstance(open_read_store("sqlite:///:memory:"), SqlReadStore)
    with pytest.raises(ValueError, match="memory:, sqlite:///ABS/PATH.db, postgresql://"):
        open_read_store("mysql://somewhere/ntd")


# -- the SQL adapter's transaction -------------------------------------------------------------


def test_a_write_that_fails_rolls_back_rows_and_position_together(
    sql_store: ReadStore, small: History, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = small.events()
    half = len(events) // 2
    sql_store.apply(events[:half])
    before = (sql_store.position(), list(sql_store.audit_query(AuditQuery())))
    write = SqlReadStore._write

    def write_then_fail(self: SqlReadStore, *args: Any) -> None:
        write(self, *args)
        raise OSError("disk full")

    monkeypatch.setattr(SqlReadStore, "_write", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        sql_store.apply(events[half:])
    monkeypatch.undo()
    assert (sql_store.position(), list(sql_store.audit_query(AuditQuery()))) == before
    sql_store.apply(events[half:])
    assert sql_store.position() == small.last_id()
    assert sql_store.verify_audit().ok


def test_two_stores_on_one_database_apply_each_event_once(
    sql_adapter: Adapter, small: History, request: pytest.FixtureRequest
) -> None:
    first = sql_adapter.open()
    second = open_read_store(sql_adapter.store_url)
    request.addfinalizer(sql_adapter.discard)
    events = small.events()
    first.apply(events[:300])
    second.apply(events[:400])
    first.apply(events)
    second.apply(events)
    rows = list(second.audit_query(AuditQuery()))
    assert len({row.seq for row in rows}) == len(rows)
    assert second.verify_audit().ok
    notifier_id = small.notifiers["Acme"][0]
    assert first.dashboard(notifier_id, small.clock.now(), Rules()) == second.dashboard(
        notifier_id, small.clock.now(), Rules()
    )
    first.close()
    second.close()


# -- a store from an older ntd -----------------------------------------------------------------

ADDED_TABLES = ("read_case_steps", "read_identifications", "read_messages", "message_reads")
ADDED_INDEXES = ("read_cases_filed", "read_cases_due", "read_cases_seller")


def made_old(adapter: Adapter) -> None:
    """Take the store back to its shape before the columns and tables ADDED_COLUMNS and the
    steps, identifications, messages and read marks came with (the rows it holds stay)."""
    for index in ADDED_INDEXES:
        adapter.execute(f"DROP INDEX IF EXISTS {index}")
    for table in ADDED_TABLES:
        adapter.execute(f"DROP TABLE {table}")
    for table, column, _ in ADDED_COLUMNS:
        adapter.execute(f"ALTER TABLE {table} DROP COLUMN {column}")


FACT_TIMES = ("counter_noticed_at", "reversed_at", "withdrawn_at")
"""What the rows of an older ntd never kept: when those facts happened."""


def answers(store: ReadStore, history: History, at: Any, times: bool = True) -> Any:
    cases = [store.case(c) for c in history.case_ids]
    return (
        [store.dashboard(n, at, Rules()) for n, _ in history.notifiers.values()],
        store.case_list(CaseQuery(limit=10**6)),
        store.queue(CaseQuery(viewer="agent:alice", limit=10**6)),
        [
            c if times or c is None else c.model_copy(update=dict.fromkeys(FACT_TIMES))
            for c in cases
        ],
        store.due_deadlines(at + timedelta(days=3650)),
    )


def test_a_store_from_before_the_new_columns_gains_them_at_start_up(
    sql_adapter: Adapter, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    history = build_history(seed=5, rounds=200, collaboration=False)  # what ntd recorded then
    now = history.clock.now()
    store = sql_adapter.open()
    request.addfinalizer(sql_adapter.discard)
    catch_up(history.app, store)
    expected = answers(store, history, now, times=False)
    store.close()
    made_old(sql_adapter)

    opened_again = open_read_store(sql_adapter.store_url)
    assert answers(opened_again, history, now, times=False) == expected  # as of now, the same
    history.file("Acme", listings=2)  # and it goes on from there
    catch_up(history.app, opened_again)
    reference = MemoryReadStore()
    catch_up(history.app, reference)
    assert answers(opened_again, history, now, False) == answers(reference, history, now, False)
    earlier = now - timedelta(days=30)  # the past as the old rows could not tell it ...
    rebuild(opened_again, [history.events()], Positions(history.last_id()))
    assert answers(opened_again, history, earlier) == answers(reference, history, earlier)
    opened_again.close()  # ... until a rebuild
