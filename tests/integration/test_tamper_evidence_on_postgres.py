"""Tampering with the PostgreSQL event store, as issue 15's "Why" does with a copy of a data
directory: `ntd audit verify` names the spot and `ntd projections rebuild` refuses the store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg2
import pytest
from psycopg2 import sql

from ntd.store_chain import GENESIS, link
from tests.unit.test_cli import (  # noqa: F401  (fixtures used by name)
    ALICE,
    AUDREY,
    ROOT,
    SELLER,
    data_dir,
    error_lines,
    filed,
    ok,
    run,
    staff,
)

from .conftest import EVENTS_DSN

FACTS = "Test buy: counterfeit"


@pytest.fixture(autouse=True)
def on_postgres_store(
    data_dir: Path,  # noqa: F811
    pg_schema: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NTD_EVENT_STORE", "postgres")
    monkeypatch.setenv("NTD_EVENTS_DSN", EVENTS_DSN)
    monkeypatch.setenv("NTD_EVENTS_SCHEMA", pg_schema)
    monkeypatch.setenv("NTD_SIGNING_KEY", str(tmp_path / "keys" / "signing.key"))


@pytest.fixture
def evidence(filed: dict[str, str], pg_schema: str) -> Iterator[dict[str, Any]]:  # noqa: F811
    ok("keys", "init")
    case = filed["case"]
    ok("case", "take-down", case, "--facts", FACTS, "--as", ALICE)
    ok("case", "counter-notice", case, "--statement", "Mine", "--consent", "--as", SELLER)
    ok("audit", "verify", "--as", AUDREY)
    ok("audit", "checkpoint", "--force", "--as", ROOT)
    assert "event store chain intact" in ok("audit", "verify", "--as", AUDREY)
    connection = psycopg2.connect(EVENTS_DSN)
    connection.autocommit = True
    yield {"case": case, "db": connection, "schema": pg_schema}
    connection.close()


def _do(where: dict[str, Any], statement: str, *args: Any) -> list[tuple[Any, ...]]:
    schema = sql.Identifier(where["schema"])
    with where["db"].cursor() as cursor:
        cursor.execute(sql.SQL(statement).format(s=schema), args)
        return cursor.fetchall() if cursor.description else []


def _position(where: dict[str, Any], topic_part: str) -> int:
    [(position,)] = _do(
        where,
        "SELECT notification_id FROM {s}.ntd_events WHERE originator_id = %s AND topic LIKE %s",
        where["case"],
        f"%{topic_part}%",
    )
    return int(position)


def _edit_facts(where: dict[str, Any]) -> int:
    position = _position(where, "TakenDown")
    _do(
        where,
        "UPDATE {s}.ntd_events SET state = convert_to(replace(convert_from(state, 'UTF8'),"
        " %s, 'Test buy: genuine'), 'UTF8') WHERE notification_id = %s",
        FACTS,
        position,
    )
    return position


def _recompute(where: dict[str, Any]) -> None:
    head = GENESIS
    rows = _do(
        where,
        "SELECT e.notification_id, e.originator_id::text, e.originator_version, c.recorded_at,"
        " e.topic, e.state FROM {s}.ntd_events e JOIN {s}.ntd_events_chain c"
        " USING (notification_id) ORDER BY 1",
    )
    for position, aggregate, version, at, topic, state in rows:
        head = link(head, position, UUID(aggregate), version, at, topic, bytes(state))
        _do(
            where,
            "UPDATE {s}.ntd_events_chain SET hash = %s WHERE notification_id = %s",
            head,
            position,
        )


def _edit(where: dict[str, Any]) -> str:
    return f"position {_edit_facts(where)} ("


def _delete_middle(where: dict[str, Any]) -> str:
    position = _position(where, "TakenDown")
    _do(where, "DELETE FROM {s}.ntd_events WHERE notification_id = %s", position)
    _do(where, "DELETE FROM {s}.ntd_events_chain WHERE notification_id = %s", position)
    return f"position {position + 1} ("


def _recomputed(where: dict[str, Any]) -> str:
    _edit_facts(where)
    _recompute(where)
    return "differs from the signed checkpoint"


def _truncated(where: dict[str, Any]) -> str:
    [(last,)] = _do(where, "SELECT max(notification_id) FROM {s}.ntd_events")
    _do(where, "DELETE FROM {s}.ntd_events WHERE notification_id = %s", last)
    _do(where, "DELETE FROM {s}.ntd_events_chain WHERE notification_id = %s", last)
    return "deleted at the end"


def _rechained(where: dict[str, Any]) -> str:
    _edit_facts(where)
    _do(where, "DELETE FROM {s}.ntd_events_chain")
    ok("audit", "chain", "--migrate", "--as", ROOT)
    return "differs from the signed checkpoint"


@pytest.mark.parametrize(
    "tamper", [_edit, _delete_middle, _recomputed, _truncated, _rechained], ids=lambda f: f.__name__
)
def test_tampering_with_the_postgres_store_is_named_by_verify_and_refused_by_rebuild(
    evidence: dict[str, Any], tamper: Callable[[dict[str, Any]], str]
) -> None:
    spot = tamper(evidence)
    verified = run("audit", "verify", "--as", AUDREY)
    assert verified.exit_code == 1
    [line] = error_lines(verified)
    assert "event store chain broken" in line and spot in line, line
    rebuilt = run("projections", "rebuild", "--all")
    assert rebuilt.exit_code == 1
    [refusal] = error_lines(rebuilt)
    assert "refusing to rebuild" in refusal and spot in refusal, refusal


def test_an_override_on_postgres_records_who_and_why(evidence: dict[str, Any]) -> None:
    _edit_facts(evidence)
    ok(
        "projections",
        "rebuild",
        "--all",
        "--override-broken-chain",
        "--reason",
        "court copy",
        "--as",
        ROOT,
    )
    [(state,)] = _do(
        evidence, "SELECT state FROM {s}.ntd_events WHERE topic LIKE '%%ChainOverride%%'"
    )
    assert json.loads(bytes(state))["reason"] == "court copy"
