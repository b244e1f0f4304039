"""A notifier's standing on its read-model figures: the service operation behind `ntd notifier
warn`, which cites the decline rate of the brand dashboard, and finding notifiers by name
(`ntd dashboard --brand NAME`)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from domain.values import Actor
from ntd.bootstrap import Ntd
from projections.models import NotifierSummary
from projections.store import ReadStore

Progress = Callable[[int, int], None]
"""Told (done, total) while the read models catch up."""


def warn_notifier(
    ntd: Ntd,
    notifier_id: UUID,
    reason: str,
    actor: Actor,
    *,
    progress: Progress | None = None,
) -> float:
    """Warn a notifier for manifestly unfounded notices, citing the dashboard's decline rate
    (0 with nothing decided): a figure ntd computes, never one the caller gives. Returns it."""
    ntd.app.may_read("read_dashboard", actor, notifier_id=notifier_id)
    ntd.catch_up(progress)
    board = ntd.read_store.dashboard(notifier_id, ntd.clock.now(), ntd.app.rules)
    unfounded_share = board.decline_rate or 0.0
    ntd.app.warn_notifier(notifier_id, reason, unfounded_share, actor)
    return unfounded_share


def notifiers_named(store: ReadStore, text: str) -> list[NotifierSummary]:
    """The notifiers whose name is the text, or failing that those whose name starts with it
    (case-insensitive, surrounding blanks ignored)."""
    wanted = text.strip().lower()
    known = store.notifiers()
    return [n for n in known if n.name.lower() == wanted] or [
        n for n in known if n.name.lower().startswith(wanted)
    ]
