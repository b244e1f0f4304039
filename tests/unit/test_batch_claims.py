"""Bulk filing reads the listings' claims in one query, with the same idempotency as one by one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from domain.notice import NoticeRefused, parse_notice
from ntd.bootstrap import FixedClock, Ntd, build
from ntd.config import Settings
from tests.unit.domain_fixtures import (
    AGENT,
    BRAND_USER,
    grant_cast,
    notice_data,
    reasons,
    register_brand,
)


def bulk_desk(tmp_path: Path) -> tuple[Ntd, UUID, UUID]:
    """An embedded system on SQLite (whose store has a batch reader), with the tests' cast and
    a brand ready to file."""
    system = build(
        Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'r.db'}"),
        clock=FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)),
    )
    assert system.app.batch_reader is not None
    grant_cast(system.app)
    notifier, right = register_brand(system.app, "Bulk")
    return system, notifier, right


def test_refiling_a_bulk_notice_on_sqlite_returns_the_open_cases_and_reopens_resolved_ones(
    tmp_path: Path,
) -> None:
    system, notifier, right = bulk_desk(tmp_path)
    try:
        app = system.app
        notice = parse_notice(notice_data(notifier, right, listings=40))
        first = app.file_notice(notice, BRAND_USER)
        app.decline(first.cases[0].case_id, reasons(), AGENT)

        again = app.file_notice(notice, BRAND_USER)

        assert [c.already_open for c in again.cases] == [False] + [True] * 39
        assert [c.case_id for c in again.cases[1:]] == [c.case_id for c in first.cases[1:]]
        assert again.cases[0].case_id != first.cases[0].case_id
    finally:
        system.close()


def test_a_bulk_notice_under_a_client_id_is_read_in_one_query_and_refused_with_more_listings(
    tmp_path: Path,
) -> None:
    system, notifier, right = bulk_desk(tmp_path)
    try:
        app = system.app
        client = str(uuid4())
        first = app.file_notice(
            parse_notice(notice_data(notifier, right, listings=40, notice_id=client)), BRAND_USER
        )
        app.decline(first.cases[0].case_id, reasons(), AGENT)

        again = app.file_notice(
            parse_notice(notice_data(notifier, right, listings=40, notice_id=client)), BRAND_USER
        )

        assert [c.case_id for c in again.cases] == [c.case_id for c in first.cases]
        assert again.new_case_ids == []
        more = parse_notice(notice_data(notifier, right, listings=41, notice_id=client))
        with pytest.raises(NoticeRefused, match=r"\(added: shop.example/L-41\)$"):
            app.file_notice(more, BRAND_USER)
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
        grant_cast(app)
        notifier, right = register_brand(app)
        app.file_notice(parse_notice(notice_data(notifier, right, listings=3)), BRAND_USER)
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
