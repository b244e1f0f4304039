"""Pages of the PostgreSQL log: internal events left out but covered, bounds, and shares."""

from __future__ import annotations

from domain.catalog import internal_topics
from domain.notice import parse_notice
from ntd.bootstrap import Ntd, store_reader
from ntd.event_store import PostgresBatchReader
from tests.unit.domain_fixtures import BRAND_USER, grant_cast, notice_data, register_brand


def test_pages_leave_out_internal_events_cover_them_and_split_into_disjoint_shares(
    pg_ntd: Ntd,
) -> None:
    app = pg_ntd.app
    grant_cast(app)  # internal events first: roles granted
    notifier, right = register_brand(app)
    app.file_notice(parse_notice(notice_data(notifier, right, listings=30)), BRAND_USER)
    everything = app.recorder.select_notifications(start=1, limit=1000)
    internal = sorted(set(internal_topics()))
    published = [n.id for n in everything if n.topic not in internal]
    first = next(i for i, n in enumerate(everything) if n.topic not in internal)
    start, stop = everything[first], everything[first + 3]  # three published, one internal
    reader = store_reader(pg_ntd)
    try:
        assert isinstance(reader, PostgresBatchReader)
        page = reader.notifications(1, 1000, internal)
        small = reader.notifications(start.id, 5, internal, stop=stop.id)
        granting = reader.notifications(1, first, internal)  # only internal events
        shares = [reader.notifications(1, 1000, internal, share=(k, 3)) for k in range(3)]
        after = reader.notifications(page.last_id + 1, 1000, internal)
    finally:
        reader.close()

    assert [n.id for n in page.rows] == published
    assert everything[-1].topic in internal and page.last_id == everything[-1].id
    assert stop.topic in internal and small.last_id == stop.id
    assert [n.id for n in small.rows] == [i for i in published if i <= stop.id]
    assert len(small.rows) == 3
    assert granting.rows == [] and granting.last_id == everything[first - 1].id
    assert sorted(n.id for s in shares for n in s.rows) == published
    assert all(s.last_id == everything[-1].id for s in shares)
    assert all(len(s.rows) < len(published) for s in shares)
    assert after.last_id == 0 and after.rows == []
