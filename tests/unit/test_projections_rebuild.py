"""Rebuilding the views into fresh tables and swapping them in whole, on every adapter."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from domain.catalog import aggregate_type, is_published
from domain.mapping import event_payload, published_payload, with_originator
from domain.values import DomainEvent, RightType
from projections import AuditQuery, ReadStore, catch_up
from projections import rebuild as rebuild_module
from projections.rebuild import Chunk, Positions, Progress, Replay, decoded, rebuild
from projections.tracking import Tracked, payloads
from tests.unit.projection_fixtures import (
    ADAPTERS,
    ALICE,
    Adapter,
    History,
    adapter_for,
    build_history,
    opened,
)
from tests.unit.test_projections_tracking import as_records, spans, views

pytestmark = pytest.mark.fast

CONSUMER = "projections"


@pytest.fixture(scope="module")
def history() -> History:
    return build_history(seed=4, rounds=250)


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Adapter:
    return adapter_for(request.param, tmp_path)


@pytest.fixture
def store(adapter: Adapter) -> Iterator[ReadStore]:
    yield from opened(adapter)


def chunks(events: Sequence[tuple[int, DomainEvent]], size: int = 97) -> Iterator[Any]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def reference(history: History) -> ReadStore:
    store = adapter_for("memory", Path()).open()
    catch_up(history.app, store)
    return store


def test_a_rebuild_from_the_log_gives_the_views_catching_up_gives(
    store: ReadStore, history: History
) -> None:
    seen: list[int] = []
    replay = rebuild(
        store,
        chunks(history.events()),
        Positions(history.last_id()),
        lambda progress: seen.append(progress.events),
    )
    assert views(store, history) == views(reference(history), history)
    assert store.position() == history.last_id()
    assert store.verify_audit().ok
    assert replay.events == len(history.events()) == seen[-1]
    assert seen == sorted(seen) and replay.rejected == []


def test_a_rebuild_replaces_whatever_the_views_held_and_sets_the_positions(
    store: ReadStore, history: History
) -> None:
    events = history.events()
    store.apply(events[: len(events) // 3])
    records = as_records(events)[:40]
    store.apply_tracked("someone else", records, spans(records))
    offsets = {("ntd.case.v1", 0): 17, ("ntd.case.v1", 1): 0}

    rebuild(store, chunks(events), Positions(0, CONSUMER, offsets))

    assert views(store, history) == views(reference(history), history)
    assert store.position() == 0
    assert store.offsets(CONSUMER) == offsets
    assert store.offsets("someone else") == spans_ends(records)


def spans_ends(records: Any) -> dict[tuple[str, int], int]:
    return {where: span.end for where, span in spans(records).items()}


def test_a_rebuild_that_fails_leaves_the_old_views_and_no_fresh_tables(
    store: ReadStore, history: History, adapter: Adapter
) -> None:
    events = history.events()
    store.apply(events[: len(events) // 2])
    before = (views(store, history), store.position())

    def failing() -> Iterator[Any]:
        yield from chunks(events[:300])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rebuild(store, failing(), Positions(history.last_id()))

    assert (views(store, history), store.position()) == before
    if adapter.kind == "sqlite":
        with sqlite3.connect(adapter.url.removeprefix("sqlite://")) as conn:
            names = [n for (n,) in conn.execute("SELECT name FROM sqlite_master")]
        assert not [n for n in names if n.startswith("rebuild_")]
        assert "read_audit_actor" in names


def test_the_replay_leaves_out_an_event_the_views_cannot_place_with_its_whole_effect() -> None:
    history = build_history(seed=4, rounds=60)
    events = history.events()
    orphan_at = next(
        i
        for i, (_, e) in enumerate(events)
        if type(e).__name__ == "TakenDown" and e.originator_version > 1
    )
    orphan_case = events[orphan_at][1].originator_id
    kept = [
        (seq, e)
        for i, (seq, e) in enumerate(events)
        if e.originator_id != orphan_case or i == orphan_at
    ]
    replay = Replay()
    staged = replay.apply(kept)
    assert [seq for seq, _ in replay.rejected] == [events[orphan_at][0]]
    assert orphan_case not in replay.chains
    assert events[orphan_at][0] not in {r.seq for r in staged.records}


def test_progress_reports_events_per_second() -> None:
    progress = Progress(events=500, started=0.0)
    assert 0 < progress.rate < 500


@pytest.mark.sqlite
def test_a_reader_inside_a_transaction_keeps_seeing_the_old_sqlite_views_until_it_ends(
    tmp_path: Path, history: History
) -> None:
    adapter = adapter_for("sqlite", tmp_path)
    store = adapter.open()
    events = history.events()
    store.apply(events[:200])
    reader = sqlite3.connect(adapter.url.removeprefix("sqlite://"), isolation_level=None)
    reader.execute("BEGIN")
    old = reader.execute("SELECT COUNT(*) FROM read_audit").fetchone()

    rebuild(store, chunks(events), Positions(history.last_id()))

    assert reader.execute("SELECT COUNT(*) FROM read_audit").fetchone() == old
    reader.execute("COMMIT")
    new = reader.execute("SELECT COUNT(*) FROM read_audit").fetchone()
    assert new[0] == len(list(store.audit_query(AuditQuery()))) > old[0]
    reader.close()
    store.close()


def stored_chunks(history: History, size: int = 97) -> Iterator[Chunk]:
    """The log as a store feed reads it: each event with its stored JSON as the payload."""
    notifications = history.app.recorder.select_notifications(start=1, limit=10**9)
    for start in range(0, len(notifications), size):
        yield decoded(notifications[start : start + size], history.app.mapper)


def test_rows_written_from_the_stored_payloads_are_the_rows_serialising_the_events_gives(
    store: ReadStore, history: History
) -> None:
    rebuild(store, stored_chunks(history), Positions(history.last_id()))

    assert views(store, history) == views(reference(history), history)
    assert store.verify_audit().ok


def test_the_audit_row_keeps_the_payload_its_feed_read_rather_than_serialising_again(
    history: History,
) -> None:
    seq, event = next(
        (s, e) for s, e in history.events() if e.originator_version == 1 and aggregate_type(type(e))
    )
    as_read = " " + event_payload(event).decode()  # same JSON, not the bytes pydantic writes

    staged = Replay().apply([(seq, event)], {seq: as_read})

    assert [row.payload for row in staged.records] == [as_read]
    assert Replay().apply([(seq, event)]).records[0].payload == event_payload(event).decode()


def test_every_feed_keeps_a_stored_state_as_it_is_even_when_pydantic_would_write_it_otherwise(
    tmp_path: Path,
) -> None:
    history = build_history(seed=9, rounds=5)
    notifications = history.app.recorder.select_notifications(1, 10**6)
    registered = next(n for n in notifications if is_published(n.topic))  # the first notifier
    spaced = b"{ " + registered.state[1:]  # the same JSON, not the bytes pydantic writes
    newcomer = uuid4()
    history.app.recorder.insert_events([StoredEvent(newcomer, 1, registered.topic, spaced)])
    caught_up = adapter_for("memory", tmp_path).open()
    catch_up(history.app, caught_up)
    rebuilt = adapter_for("memory", tmp_path).open()
    rebuild(rebuilt, stored_chunks(history), Positions(history.last_id()))
    event = cast(DomainEvent, history.app.mapper.to_domain_event(registered))
    value = with_originator(type(event), spaced, newcomer, 1)
    assert value is not None

    for store in (caught_up, rebuilt):
        (row,) = store.audit_query(AuditQuery(case_id=newcomer))
        assert row.payload == spaced.decode()
    assert published_payload(type(event), value, str(newcomer), 1) == spaced.decode()
    assert list(caught_up.audit_query(AuditQuery())) == list(rebuilt.audit_query(AuditQuery()))


def test_a_notification_id_read_twice_with_other_json_keeps_no_payload(history: History) -> None:
    (seq, event), (_, other) = history.events()[:2]
    clashing, redelivered = Chunk(), Chunk()
    clashing.add(seq, event, '{"a":1}')
    clashing.add(seq, other, '{"a":2}')
    redelivered.add(seq, event, '{"a":1}')
    redelivered.add(seq, event, '{"a":1}')

    assert clashing.payloads == {} and redelivered.payloads == {seq: '{"a":1}'}
    assert len(clashing) == len(redelivered) == 2
    tracked = [Tracked("t", 0, n, seq, event, text) for n, text in enumerate(["x", "y"])]
    assert payloads(tracked) == {}
    assert payloads([*tracked[:1], *tracked[:1]]) == {seq: "x"}


def test_a_rebuild_over_a_feed_holding_events_twice_applies_each_once_and_counts_the_rest(
    store: ReadStore, history: History
) -> None:
    events = history.events()
    resent = [(r.seq, r.event) for r in as_records(events)[-150:]]  # published ones only
    replay = rebuild(cast(Any, store), chunks([*events, *resent], size=61), Positions())
    assert replay.duplicates == len(resent)
    assert replay.rejected == []
    assert views(store, history) == views(reference(history), history)
    assert store.verify_audit().ok


def test_events_past_a_missing_one_are_left_out_in_the_same_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = build_history(seed=6, rounds=40)
    notifier_id = history.notifiers["Acme"][0]
    for n in range(6):
        history.app.register_right(
            notifier_id, RightType.TRADEMARK, f"TM-x{n}", "eu", "d" * 64, ALICE
        )
    events = history.events()
    last = max(e.originator_version for _, e in events if e.originator_id == notifier_id)
    feed = [
        (seq, e)
        for seq, e in events
        if not (e.originator_id == notifier_id and e.originator_version == last - 5)
    ]
    passes = []
    real = rebuild_module._first_failure
    monkeypatch.setattr(rebuild_module, "_first_failure", lambda *a: passes.append(1) or real(*a))
    replay = Replay()
    replay.apply(feed)
    assert len(passes) == 1
    assert len(replay.rejected) == 5
    assert all("version gap" in reason for _, reason in replay.rejected)
