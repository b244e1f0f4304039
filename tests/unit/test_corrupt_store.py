"""An event store changed outside ntd (the "Why" of issue 15, tried with the sqlite3 module on a
data directory): every command that reads it says which stored event is corrupt in one line,
never a traceback, and a topic in the store never decides which module is imported."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.unit.test_cli import (  # noqa: F401  (fixtures used by name)
    ALICE,
    data_dir,
    error_lines,
    filed,
    ok,
    run,
    staff,
)

ZEN = "Beautiful is better than ugly"
"""What `import this` prints: a stored topic `this:x` resolved by import would print it."""


@pytest.fixture
def taken_down(filed: dict[str, str]) -> str:  # noqa: F811
    """A case at version 3 or more (filed, then taken down)."""
    ok("case", "take-down", filed["case"], "--facts", "Test buy: counterfeit", "--as", ALICE)
    return filed["case"]


@pytest.fixture
def store(data_dir: Path) -> Iterator[sqlite3.Connection]:  # noqa: F811
    with closing(sqlite3.connect(data_dir / "events.db")) as connection:
        yield connection


def _hex(case: str) -> str:
    return case.replace("-", "")


def _versions(store: sqlite3.Connection, case: str) -> list[int]:
    rows = store.execute(
        "SELECT originator_version FROM stored_events WHERE originator_id = ? "
        "ORDER BY originator_version",
        (_hex(case),),
    )
    return [v for (v,) in rows]


def _one_line(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, result.output
    assert ZEN not in result.output
    [line] = error_lines(result)
    return line


def test_a_stored_topic_naming_another_module_is_a_corrupt_event_not_an_import(
    taken_down: str, store: sqlite3.Connection
) -> None:
    last = _versions(store, taken_down)[-1]
    with store:
        store.execute(
            "UPDATE stored_events SET topic = 'this:x' WHERE originator_id = ? "
            "AND originator_version = ?",
            (_hex(taken_down), last),
        )

    for command in (
        ("case", "show", taken_down),
        ("case", "history", taken_down, "--version", str(last)),
    ):
        line = _one_line(*command, "--as", ALICE)
        assert f"{taken_down} version {last}" in line and "'this:x'" in line, line
        assert "names no event of ntd" in line


def test_a_deleted_middle_event_is_named_not_a_traceback(
    taken_down: str, store: sqlite3.Connection
) -> None:
    assert len(_versions(store, taken_down)) >= 3
    with store:
        store.execute(
            "DELETE FROM stored_events WHERE originator_id = ? AND originator_version = 2",
            (_hex(taken_down),),
        )

    line = _one_line("case", "show", taken_down, "--as", ALICE)

    assert f"the stored events of {taken_down} are corrupt" in line, line


def test_two_swapped_events_are_named_not_a_traceback(
    taken_down: str, store: sqlite3.Connection
) -> None:
    first, second = _versions(store, taken_down)[1:3]
    with store:
        swap = (
            "UPDATE stored_events SET originator_version = ? WHERE originator_id = ? "
            "AND originator_version = ?"
        )
        store.execute(swap, (-1, _hex(taken_down), first))
        store.execute(swap, (first, _hex(taken_down), second))
        store.execute(swap, (second, _hex(taken_down), -1))

    line = _one_line("case", "show", taken_down, "--as", ALICE)

    assert taken_down in line and "corrupt" in line, line


def test_a_rebuild_over_a_foreign_topic_names_its_position(
    taken_down: str, store: sqlite3.Connection
) -> None:
    with store:
        (position,) = store.execute(
            "SELECT max(rowid) FROM stored_events WHERE originator_id = ?", (_hex(taken_down),)
        ).fetchone()
        store.execute("UPDATE stored_events SET topic = 'this:x' WHERE rowid = ?", (position,))

    line = _one_line("projections", "rebuild", "--all")

    assert "'this:x'" in line and "names no event of ntd" in line, line
