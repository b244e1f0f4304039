"""Bulk filing reads the listings' claims in one query, with the same idempotency as one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.values import RightType
from ntd.bootstrap import FixedClock, build
from ntd.config import Settings
from tests.unit.domain_fixtures import AGENT, CERTIFICATE, notice_data, reasons, register_brand


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


def test_a_log_page_leaves_out_internal_events_but_covers_them(tmp_path: Path) -> None:
    from domain.catalog import internal_topics
    from ntd.bootstrap import store_reader

    system = build(
        Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'r.db'}"),
        clock=FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)),
    )
    reader = store_reader(system)
    try:
        app = system.app
        notifier, right = register_brand(app)
        app.file_notice(parse_notice(notice_data(notifier, right, listings=3)))
        everything = app.recorder.select_notifications(start=1, limit=100)
        internal = set(internal_topics())

        page = reader.notifications(1, 100, sorted(internal))
        bounded = reader.notifications(1, 100, sorted(internal), stop=everything[-2].id)

        assert [n.id for n in page.rows] == [n.id for n in everything if n.topic not in internal]
        assert everything[-1].topic in internal and page.last_id == everything[-1].id
        assert bounded.last_id == everything[-2].id
        assert reader.notifications(page.last_id + 1, 100).last_id == 0
    finally:
        reader.close()
        system.close()
