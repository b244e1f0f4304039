"""Bulk filing reads the listings' claims in one query, with the same idempotency as one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from domain.notice import parse_notice
from domain.values import Actor
from ntd.bootstrap import FixedClock, build
from ntd.config import Settings
from tests.integration.history import REASONS, brand, notice


def test_refiling_a_bulk_notice_on_sqlite_returns_the_open_cases_and_reopens_resolved_ones(
    tmp_path: Path,
) -> None:
    system = build(
        Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'r.db'}"),
        clock=FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)),
    )
    try:
        app = system.app
        assert app.batch_reader is not None
        notifier, right = brand(app, "Bulk")
        listings = [f"B{i}" for i in range(40)]
        first = app.file_notice(parse_notice(notice(notifier, right, listings, 1)))
        app.decline(first.cases[0].case_id, REASONS, Actor.parse("agent:a"))

        again = app.file_notice(parse_notice(notice(notifier, right, listings, 2)))

        assert [c.already_open for c in again.cases] == [False] + [True] * 39
        assert [c.case_id for c in again.cases[1:]] == [c.case_id for c in first.cases[1:]]
        assert again.cases[0].case_id != first.cases[0].case_id
    finally:
        system.close()
