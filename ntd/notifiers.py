"""A notifier's standing on its read-model figures: the service operations behind `ntd notifier
admit` and `ntd notifier warn`, which take the trailing-window figures of the brand dashboard for
what the caller does not give, and finding notifiers by name (`ntd dashboard --brand NAME`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from domain.values import Actor
from ntd.bootstrap import Ntd
from projections.models import NotifierSummary
from projections.store import ReadStore

Progress = Callable[[int, int], None]
"""Told (done, total) while the read models catch up."""


@dataclass(frozen=True)
class LaneFigures:
    """The figures a trusted-lane admission was decided on."""

    takedown_share: float
    reversal_share: float
    notices: int


def admit_to_trusted_lane(
    ntd: Ntd,
    notifier_id: UUID,
    actor: Actor,
    *,
    takedown_share: float | None = None,
    reversal_share: float | None = None,
    notices: int | None = None,
    progress: Progress | None = None,
) -> LaneFigures:
    """Admit a notifier to the trusted lane on the figures given; each one not given is the
    dashboard's trailing-window figure (a share with nothing to divide counts as 0)."""
    if None in (takedown_share, reversal_share, notices):
        ntd.catch_up(progress)
        figures = ntd.read_store.dashboard(notifier_id, ntd.clock.now(), ntd.app.rules).trusted
        takedown_share = _or(takedown_share, figures.takedown_share)
        reversal_share = _or(reversal_share, figures.reversal_share)
        notices = notices if notices is not None else figures.notices
    assert takedown_share is not None and reversal_share is not None and notices is not None
    ntd.app.admit_to_trusted_lane(notifier_id, takedown_share, reversal_share, notices, actor)
    return LaneFigures(takedown_share, reversal_share, notices)


def _or(given: float | None, figure: float | None) -> float:
    return given if given is not None else (figure or 0.0)


def warn_notifier(
    ntd: Ntd,
    notifier_id: UUID,
    reason: str,
    actor: Actor,
    *,
    unfounded_share: float | None = None,
    progress: Progress | None = None,
) -> float:
    """Warn a notifier for manifestly unfounded notices; the unfounded share not given is the
    dashboard's decline rate (0 with nothing decided). Returns the share the warning cites."""
    if unfounded_share is None:
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
