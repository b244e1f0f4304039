"""The evidence operations every entry point shares: the event store's chain (its state,
chaining a store written before it, walking it) and what `ntd audit verify` proves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ntd.bootstrap import Ntd, open_store_chain
from ntd.store_chain import GENESIS, AlreadyChained, Break, ChainReport, walk


class ChainRefused(RuntimeError):
    """The event store's chain is broken (or missing) where a command needs it whole."""


@dataclass(frozen=True)
class ChainStatus:
    """How far the event store is chained."""

    events: int
    links: int
    last: int
    head: tuple[int, bytes] | None

    @property
    def chained(self) -> bool:
        """Whether every event should have a link (the store has links, or no events)."""
        return self.links > 0 or self.events == 0


def chain_status(ntd: Ntd) -> ChainStatus:
    """Counts of the store's events and links, and the last link."""
    chain = open_store_chain(ntd)
    try:
        events, links, last = chain.counts()
        return ChainStatus(events, links, last, chain.head())
    finally:
        chain.close()


def migrate_chain(ntd: Ntd, progress: Callable[[int], None] | None = None) -> int:
    """Chain a store written before the chain, from GENESIS at its first event; refused
    (AlreadyChained) on a store that has links."""
    chain = open_store_chain(ntd)
    try:
        return chain.migrate(progress)
    finally:
        chain.close()


def walk_store(
    ntd: Ntd,
    start: tuple[int, bytes] = (0, GENESIS),
    heads: dict[int, bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Recompute the store's chain from `start` (a trusted position and link) to its end."""
    chain = open_store_chain(ntd)
    try:
        if start[0] and chain.link_at(start[0]) != start[1]:
            broken = Break(start[0], "its link differs from the checkpoint's")
            return ChainReport(0, start[0], start[1], broken)
        return walk(chain.rows(after=start[0]), start, heads, progress)
    finally:
        chain.close()


def require_intact(ntd: Ntd) -> ChainReport:
    """The store's chain walked whole; ChainRefused naming the first broken spot if it fails."""
    report = walk_store(ntd)
    if report.broken is not None:
        raise ChainRefused(f"the event store's chain is broken at {report.broken}")
    return report


__all__ = ["AlreadyChained", "ChainRefused", "ChainStatus", "chain_status", "migrate_chain"]
