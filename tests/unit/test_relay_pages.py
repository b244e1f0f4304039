"""The relay's pages: read and encoded inline or by an encoder process, the same pages."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from domain_fixtures import notice_data, register_brand

from consumers.relay_pages import InlinePages, Page, ProcessPages
from domain.notice import parse_notice
from ntd.bootstrap import FixedClock, Ntd, build, open_log_pages
from ntd.config import Settings


@pytest.fixture
def filed(tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'r.db'}")
    system = build(settings, clock=FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    notifier, right = register_brand(system.app)
    system.app.file_notice(parse_notice(notice_data(notifier, right, listings=12)))
    yield settings, system
    system.close()


def _ids(page: Page | None) -> tuple[int, list[str]]:
    assert page is not None
    return page.last_id, [m.ce_id for m in page.messages]


def _refuse() -> Any:
    raise ConnectionError("no database here")


def test_an_encoder_process_gives_the_pages_the_relay_reads_inline(
    filed: tuple[Settings, Ntd],
) -> None:
    settings, system = filed
    inline = InlinePages(*open_log_pages(settings))
    aside = ProcessPages(functools.partial(open_log_pages, settings))
    try:
        first = _ids(inline.next(1, 10))
        assert _ids(aside.next(1, 10)) == first
        second = _ids(inline.next(first[0] + 1, 10))
        assert _ids(aside.next(first[0] + 1, 10)) == second
        assert _ids(aside.next(1, 10)) == first  # asked from elsewhere: reads again from there
        rest = inline.next(first[0] + 1, 1000)
        assert rest is not None and aside.next(rest.last_id + 1, 1000) is None  # caught up
        assert rest.last_id == system.app.recorder.max_notification_id()
    finally:
        inline.close()
        aside.close()


def test_an_encoder_that_cannot_open_the_log_says_why() -> None:
    aside = ProcessPages(_refuse)
    try:
        with pytest.raises(RuntimeError, match="could not open the log: no database here"):
            aside.next(1, 10)
    finally:
        aside.close()
