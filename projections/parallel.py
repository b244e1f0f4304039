"""Rebuilding in several processes: each replays a share of the aggregates (every event of an
aggregate is in one share) into the same fresh tables; the parent then indexes and swaps them in.

The views need no event of another aggregate to place one (a case's row, deadlines and chain come
from its own events, a notifier's from its own), so shares never meet until the swap.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from domain.values import DomainEvent
from projections.rebuild import Positions, Progress, Replay, payloads_of, settle_heap

if TYPE_CHECKING:
    from projections.sql import SqlReadStore

Job = tuple[Callable[..., "ShareOutcome"], tuple[Any, ...]]
"""A worker function and its arguments (picklable: workers are spawned)."""

_progress: tuple[Any, Any] | None = None
"""In a worker: the shared event counter and the per-share positions (set by the initializer)."""


@dataclass(frozen=True)
class ShareOutcome:
    """What one worker replayed and left out."""

    events: int
    rejected: list[tuple[int, str]]
    skipped: int = 0
    """Records that did not decode."""
    duplicates: int = 0
    """Events read again (re-sent at another offset) and skipped."""


def _share_progress(events: Any, positions: Any) -> None:
    global _progress
    _progress = (events, positions)


def replay_share(
    read_dsn: str, chunks: Iterable[Sequence[tuple[int, DomainEvent]]], share: int
) -> ShareOutcome:
    """In a worker: replay one share's chunks into the fresh tables the parent created,
    append-only rows as they come and the share's current rows at the end; returns the events
    replayed, those left out and the duplicates skipped."""
    from projections.sql import open_postgres
    from projections.sql.fresh_tables import SqlFreshTables

    store = open_postgres(read_dsn)
    try:
        tables = SqlFreshTables(store, attach=True)
        replay = Replay()
        for chunk in chunks:
            staged = replay.apply(chunk, payloads_of(chunk))
            tables.append(staged)
            settle_heap()
            if _progress is not None and chunk:
                events, positions = _progress
                with events.get_lock():
                    events.value += len(chunk)
                positions[share] = max(seq for seq, _ in chunk)
        tables.write_current(replay)
    finally:
        store.close()
    return ShareOutcome(replay.events, replay.rejected, duplicates=replay.duplicates)


def rebuild_in_parallel(
    store: SqlReadStore,
    jobs: Sequence[Job],
    positions: Positions,
    progress: Callable[[Progress], None] | None = None,
) -> ShareOutcome:
    """Run one process per job into fresh tables, then index and swap them in with `positions`.
    Any failure leaves the old views in place. Progress counts events, and as `last_seq` the
    position every share has passed."""
    tables = store.fresh_tables()
    done = Progress()
    context = multiprocessing.get_context("spawn")
    events, passed = context.Value("q", 0), context.Array("q", len(jobs))

    def report() -> None:
        done.events, done.last_seq = int(events.value), min(passed[:])
        if progress is not None:
            progress(done)

    try:
        with ProcessPoolExecutor(
            len(jobs),
            mp_context=context,
            initializer=_share_progress,
            initargs=(events, passed),
        ) as pool:
            futures = [pool.submit(function, *args) for function, args in jobs]
            while wait(futures, timeout=0.25).not_done:
                report()
            outcomes: list[ShareOutcome] = [future.result() for future in futures]
        report()
        tables.complete(positions)
    except BaseException:
        tables.discard()
        raise
    return ShareOutcome(
        sum(o.events for o in outcomes),
        [item for o in outcomes for item in o.rejected],
        sum(o.skipped for o in outcomes),
        sum(o.duplicates for o in outcomes),
    )
