"""The event store's hash chain (issue 15, item 1): every stored event is linked to the one
before it in the notification order, in the save's own transaction, and a store written before
the chain is chained by `ntd audit chain --migrate`."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID

from ntd.store_chain import GENESIS, SqliteChain, link, walk
from tests.unit.test_cli import (  # noqa: F401  (fixtures used by name)
    ALICE,
    AUDREY,
    ROOT,
    data_dir,
    error_lines,
    filed,
    ok,
    run,
    staff,
)


def _links(where: Path) -> list[tuple[int, str, bytes]]:
    with closing(sqlite3.connect(where / "events.db")) as db:
        return db.execute("SELECT * FROM stored_events_chain ORDER BY notification_id").fetchall()


def test_every_stored_event_is_linked_to_the_one_before_it(
    data_dir: Path,  # noqa: F811
    filed: dict[str, str],  # noqa: F811
) -> None:
    ok("case", "take-down", filed["case"], "--facts", "Test buy: counterfeit", "--as", ALICE)
    with closing(sqlite3.connect(data_dir / "events.db")) as db:
        events = db.execute(
            "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
            " ORDER BY rowid"
        ).fetchall()
    links = _links(data_dir)
    assert [p for p, _, _ in links] == [e[0] for e in events]
    head = GENESIS
    for (position, hex_id, version, topic, state), (_, at, stored) in zip(
        events, links, strict=True
    ):
        head = link(head, position, UUID(hex_id), version, at, topic, state)
        assert head == stored
    chain = SqliteChain(str(data_dir / "events.db"), "stored_events")
    try:
        assert walk(chain.rows()).ok
    finally:
        chain.close()
    assert "event store chained" in ok("audit", "chain", "--as", AUDREY)


def test_a_store_written_before_the_chain_is_chained_by_migration(
    data_dir: Path,  # noqa: F811
    filed: dict[str, str],  # noqa: F811
) -> None:
    before = _links(data_dir)
    with closing(sqlite3.connect(data_dir / "events.db")) as db, db:
        db.execute("DELETE FROM stored_events_chain")  # as a store written before the chain
    refused = run("audit", "chain", "--as", AUDREY)
    assert refused.exit_code == 1
    [line] = error_lines(refused)
    assert "not chained" in line and "--migrate" in line
    ok("case", "take-down", filed["case"], "--facts", "Test buy: counterfeit", "--as", ALICE)
    assert _links(data_dir) == []  # an unchained store stays unchained until migrated

    assert run("audit", "chain", "--migrate", "--as", AUDREY).exit_code == 1  # admins only
    assert "chained" in ok("audit", "chain", "--migrate", "--as", ROOT)
    links = _links(data_dir)
    assert len(links) == len(before) + 2 and len({at for _, at, _ in links}) == 1
    again = run("audit", "chain", "--migrate", "--as", ROOT)
    assert again.exit_code == 1 and "chained already" in error_lines(again)[0]
    chain = SqliteChain(str(data_dir / "events.db"), "stored_events")
    try:
        assert walk(chain.rows()).ok
    finally:
        chain.close()


def test_concurrent_sqlite_writers_leave_no_gap_in_the_chain(tmp_path: Path) -> None:
    import threading
    from uuid import uuid4

    from eventsourcing.persistence import StoredEvent

    from ntd import evidence
    from ntd.bootstrap import build
    from ntd.config import Settings

    settings = Settings(data_dir=tmp_path / "store", read_dsn="memory:")
    writers = [build(settings) for _ in range(3)]
    try:

        def write(ntd: Any) -> None:
            for _ in range(30):
                events = [StoredEvent(uuid4(), 1, "t", b"{}") for _ in range(2)]
                ntd.app.recorder.insert_events(events)

        threads = [threading.Thread(target=write, args=(w,)) for w in writers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        status = evidence.chain_status(writers[0])
        report = evidence.walk_store(writers[0])
    finally:
        for w in writers:
            w.close()
    assert status.events == status.links == 180
    assert report.ok and report.events == 180
