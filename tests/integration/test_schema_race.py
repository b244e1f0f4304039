"""Processes started together on a fresh database each create the tables they need, and all
of them start: in a deployment every process starts at once, and PostgreSQL's IF NOT EXISTS is
not safe against concurrent creators (the loser of the race fails with a duplicate key in the
catalog). Several processes, warmed up and released together by a barrier, open every store
ntd creates tables in; a round passes when none of them failed. Races are a matter of chance,
so each test runs several rounds, each on fresh schemas (or fresh SQLite files)."""

from __future__ import annotations

import importlib
import multiprocessing
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql

from ntd.config import Settings
from tests.integration.conftest import EVENTS_DSN, READ_DSN, read_dsn

pytestmark = pytest.mark.integration

PROCESSES = 8
ROUNDS = 4
WAIT = 60
"""Seconds a process waits for the others at a barrier, or a round for its processes."""
WARM = ("ntd.bootstrap", "consumers.relay_store", "projections.sql", "projections.policy_sql")

_barrier: Any = None

Stage = Callable[[Settings], None]


def _warm_up(barrier: Any) -> None:
    """In each process of the pool: keep the barrier and import everything a stage uses, so
    the processes leave the barrier together instead of one import after another."""
    global _barrier
    _barrier = barrier
    for module in WARM:
        importlib.import_module(module)


def _event_store(settings: Settings) -> None:
    from ntd.bootstrap import build

    build(settings).close()


def _relay_positions(settings: Settings) -> None:
    from consumers.relay_store import SqlRelayPositions

    if settings.event_store == "sqlite":
        positions = SqlRelayPositions.sqlite(str(settings.data_dir / "events.db"))
    else:
        positions = SqlRelayPositions.postgres(settings.events_dsn, settings.events_schema)
    positions.close()


def _read_store(settings: Settings) -> None:
    from projections.sql import open_postgres, open_sqlite

    url = settings.read_dsn
    sqlite = url.startswith("sqlite://")
    (open_sqlite(url.removeprefix("sqlite://")) if sqlite else open_postgres(url)).close()


def _policy_store(settings: Settings) -> None:
    from projections.policy_sql import open_sql_policy_store

    open_sql_policy_store(settings.read_dsn, settings.rules.trusted_window_days).close()


def _event_schema(settings: Settings) -> None:
    from projections.schema_lock import create_schema

    create_schema(settings.events_dsn, settings.events_schema)


def _wal(settings: Settings) -> None:
    from projections.schema_lock import use_wal

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    for store in ("events.db", "read.db"):
        use_wal(str(settings.data_dir / store))


STAGES: tuple[Stage, ...] = (_event_store, _relay_positions, _read_store, _policy_store)
"""What starting processes open, each a place that creates tables: `ntd demo` the event store
and the views, `ntd relay` the store and its position, `ntd consume …` the views."""


def _start_together(
    first: Sequence[Stage], stages: Sequence[Stage], settings: Settings, turn: int
) -> list[str]:
    """The `first` stages, then the others from the `turn`-th on (and round), each begun when
    every process is ready to begin its next one; what failed, as text."""
    failures = []
    for stage in [*first, *stages[turn:], *stages[:turn]]:
        _barrier.wait(WAIT)
        try:
            stage(settings)
        except Exception as error:  # what a failed process would print
            failures.append(f"{stage.__name__}: {type(error).__name__}: {error}".strip())
    return failures


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    """PROCESSES fresh interpreters (spawned, as separate `ntd` commands are), warmed up."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    with ProcessPoolExecutor(
        PROCESSES, mp_context=context, initializer=_warm_up, initargs=(barrier,)
    ) as executor:
        yield executor


def _run_round(
    pool: ProcessPoolExecutor,
    settings: Settings,
    stages: Sequence[Stage],
    mixed: bool = False,
    first: Sequence[Stage] = (),
) -> list[str]:
    """Every process runs the `first` stages and then the others, all of them the same stage
    at a time, or `mixed`: each process at another stage, so different stores are created at
    the same moment. A process blocked at the barrier takes no other task, so the tasks run
    in PROCESSES processes. The failures of all of them."""
    tasks = [
        pool.submit(_start_together, first, stages, settings, i % len(stages) if mixed else 0)
        for i in range(PROCESSES)
    ]
    timeout = WAIT * (len(first) + len(stages))
    return [failure for task in tasks for failure in task.result(timeout=timeout)]


def _admin(dsn: str, statement: sql.Composable) -> None:
    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def fresh_schemas(postgres: str) -> Iterator[Callable[[bool], tuple[str, str]]]:
    """Names of fresh schemas, one pair per call: the event store's (empty, or with
    `events=False` not there yet) and the read models' (empty); all dropped afterwards. An empty
    schema is what a fresh database offers (`public`); the read DSN's search path needs one."""
    made: list[tuple[str, str]] = []

    def fresh(events: bool = True) -> tuple[str, str]:
        name = "r" + uuid.uuid4().hex[:10]
        made.append((name, f"{name}_read"))
        if events:
            _admin(EVENTS_DSN, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        _admin(READ_DSN, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"{name}_read")))
        return made[-1]

    yield fresh
    for events, read in made:
        drop = "DROP SCHEMA IF EXISTS {} CASCADE"
        _admin(EVENTS_DSN, sql.SQL(drop).format(sql.Identifier(events)))
        _admin(READ_DSN, sql.SQL(drop).format(sql.Identifier(read)))


def _postgres(data_dir: Path, events: str, read: str) -> Settings:
    return Settings(
        data_dir=data_dir,
        event_store="postgres",
        events_dsn=EVENTS_DSN,
        events_schema=events,
        read_dsn=read_dsn(read),
    )


def _sqlite(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, read_dsn=f"sqlite:///{data_dir / 'read.db'}")


def test_processes_started_together_on_a_fresh_postgresql_database_all_start(
    pool: ProcessPoolExecutor, fresh_schemas: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    failed = {}
    for round_no in range(ROUNDS):
        settings = _postgres(tmp_path / str(round_no), *fresh_schemas())
        if failures := _run_round(pool, settings, STAGES, mixed=round_no % 2 == 1):
            failed[round_no] = failures

    assert failed == {}


def test_processes_creating_the_event_stores_schema_together_all_find_it(
    pool: ProcessPoolExecutor, fresh_schemas: Callable[..., tuple[str, str]], tmp_path: Path
) -> None:
    failed = {}
    for round_no in range(ROUNDS):
        settings = _postgres(tmp_path / str(round_no), *fresh_schemas(events=False))
        if failures := _run_round(pool, settings, (_event_store,), first=(_event_schema,)):
            failed[round_no] = failures

    assert failed == {}


def test_processes_started_together_on_fresh_sqlite_stores_all_start(
    pool: ProcessPoolExecutor, tmp_path: Path
) -> None:
    """Each process first switches the files to WAL (use_wal): SQLite's own switch, run by
    several processes at once, can fail with "database is locked" whatever the busy timeout."""
    failed = {}
    for round_no in range(ROUNDS):
        settings = _sqlite(tmp_path / str(round_no))
        mixed = round_no % 2 == 1
        if failures := _run_round(pool, settings, STAGES, mixed=mixed, first=(_wal,)):
            failed[round_no] = failures

    assert failed == {}
