"""Pages of the PostgreSQL log: internal events left out but covered, bounds, and shares."""

from __future__ import annotations

from domain.catalog import internal_topics
from domain.notice import parse_notice
from ntd.bootstrap import Ntd, store_reader
from ntd.event_store import PostgresBatchReader
from tests.unit.domain_fixtures import notice_data, register_brand


def test_pages_leave_out_internal_events_cover_them_and_split_into_disjoint_shares(
    pg_ntd: Ntd,
) -> None:
    app = pg_ntd.app
    notifier, right = register_brand(app)
    app.file_notice(parse_notice(notice_data(notifier, right, listings=30)))
    everything = app.recorder.select_notifications(start=1, limit=1000)
    internal = sorted(set(internal_topics()))
    published = [n.id for n in everything if n.topic not in internal]
    reader = store_reader(pg_ntd)
    try:
        assert isinstance(reader, PostgresBatchReader)
        page = reader.notifications(1, 1000, internal)
        small = reader.notifications(1, 5, internal, stop=everything[3].id)
        shares = [reader.notifications(1, 1000, internal, share=(k, 3)) for k in range(3)]
        after = reader.notifications(page.last_id + 1, 1000, internal)
    finally:
        reader.close()

    assert [n.id for n in page.rows] == published
    assert everything[-1].topic in internal and page.last_id == everything[-1].id
    assert small.last_id == everything[3].id
    assert [n.id for n in small.rows] == [i for i in published if i <= everything[3].id]
    assert sorted(n.id for s in shares for n in s.rows) == published
    assert all(s.last_id == everything[-1].id for s in shares)
    assert all(len(s.rows) < len(published) for s in shares)
    assert after.last_id == 0 and after.rows == []
