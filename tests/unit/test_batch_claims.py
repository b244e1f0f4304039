"""Bulk filing reads the listings' claims in one query, with the same idempotency as one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from domain_fixtures import AGENT, CERTIFICATE, notice_data, reasons

from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.values import RightType
from ntd.bootstrap import FixedClock, build
from ntd.config import Settings


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
        notifier = app.register_notifier("Bulk", NotifierKind.BRAND, "l@bulk.example", AGENT)
        right = app.register_right(notifier, RightType.TRADEMARK, "TM", "EU", CERTIFICATE, AGENT)
        app.verify_right(notifier, right, AGENT)
        first = app.file_notice(parse_notice(notice_data(notifier, right, listings=40)))
        app.decline(first.cases[0].case_id, reasons(), AGENT)

        again = app.file_notice(parse_notice(notice_data(notifier, right, listings=40)))

        assert [c.already_open for c in again.cases] == [False] + [True] * 39
        assert [c.case_id for c in again.cases[1:]] == [c.case_id for c in first.cases[1:]]
        assert again.cases[0].case_id != first.cases[0].case_id
    finally:
        system.close()
