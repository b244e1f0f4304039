"""The relay's pages: read and encoded inline or by an encoder process, the same pages."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from consumers.relay_pages import InlinePages, ProcessPages
from domain.notice import parse_notice
from ntd.bootstrap import FixedClock, Ntd, build, open_log_pages
from ntd.config import Settings
from tests.unit.domain_fixtures import BRAND_USER, grant_cast, notice_data, register_brand


@pytest.fixture
def filed(tmp_path: Path) -> Any:
    settings = Settings(data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'r.db'}")
    system = build(settings, clock=FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    grant_cast(system.app)
    notifier, right = register_brand(system.app)
    system.app.file_notice(parse_notice(notice_data(notifier, right, listings=12)), BRAND_USER)
    yield settings, system
    system.close()


def _drain(pages: InlinePages | ProcessPages) -> tuple[list[str], int]:
    """Every message from the start of the log, and the last id covered."""
    start, ids = 1, []
    while (page := pages.next(start, 10)) is not None:
        ids += [m.ce_id for m in page.messages]
        start = page.last_id + 1
    return ids, start - 1


def _refuse() -> Any:
    raise ConnectionError("no database here")


def _slow_open(settings: Settings, seconds: float) -> Any:
    time.sleep(seconds)
    return open_log_pages(settings)


def _slow_reads(settings: Settings, seconds: float) -> Any:
    select, mapper, release = open_log_pages(settings)

    def slow_select(start: int, limit: int) -> Any:
        time.sleep(seconds)
        return select(start, limit)

    return slow_select, mapper, release


def test_an_encoder_process_gives_the_messages_the_relay_reads_inline(
    filed: tuple[Settings, Ntd],
) -> None:
    settings, system = filed
    inline = InlinePages(*open_log_pages(settings))
    aside = ProcessPages(functools.partial(open_log_pages, settings))
    try:
        everything, last = _drain(inline)
        assert _drain(aside) == (everything, last)
        assert last == system.app.recorder.max_notification_id() and len(everything) == 15
        again = aside.next(1, 10)  # asked from elsewhere: reads again from there
        assert again is not None
        assert [m.ce_id for m in again.messages] == everything[: len(again.messages)]
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


def test_pages_the_encoder_ran_ahead_with_come_back_as_one(filed: tuple[Settings, Ntd]) -> None:
    settings, system = filed
    aside = ProcessPages(functools.partial(open_log_pages, settings))
    try:
        first = aside.next(1, 3)  # the encoder goes on in pages of three rows
        assert first is not None
        time.sleep(1.5)
        rest = aside.next(first.last_id + 1, 1000)
        assert rest is not None
        assert rest.last_id == system.app.recorder.max_notification_id()
        assert len(first.messages) + len(rest.messages) == 3 + 12  # the brand's events, the cases
    finally:
        aside.close()


def test_pages_come_inline_until_the_encoder_is_ready_and_it_goes_on_where_they_ended(
    filed: tuple[Settings, Ntd],
) -> None:
    settings, _ = filed
    reference = InlinePages(*open_log_pages(settings))
    aside = ProcessPages(
        functools.partial(_slow_open, settings, 1.0), inline=InlinePages(*open_log_pages(settings))
    )
    try:
        everything, last = _drain(reference)
        start, ids, sources = 1, [], []
        while (page := aside.next(start, 3)) is not None:
            ids += [m.ce_id for m in page.messages]
            sources.append("encoder" if aside.ready else "inline")
            start = page.last_id + 1
            if len(sources) == 2:
                time.sleep(2.0)  # the encoder is ready now; the next page comes from it
        assert (ids, start - 1) == (everything, last)
        assert sources[:2] == ["inline", "inline"] and set(sources[2:]) == {"encoder"}
    finally:
        reference.close()
        aside.close()


def test_a_slow_page_is_waited_for_not_taken_for_the_end_of_the_log(
    filed: tuple[Settings, Ntd],
) -> None:
    settings, _ = filed
    reference = InlinePages(*open_log_pages(settings))
    aside = ProcessPages(functools.partial(_slow_reads, settings, 0.3))
    try:
        assert _drain(aside) == _drain(reference)  # every read takes longer than an idle wait
        assert aside.next(aside.expected, 10) is None  # and at the end, the log is drained
    finally:
        reference.close()
        aside.close()
