"""Running the policies now: the service operation behind `ntd policies run`. In embedded mode
(NTD_FEED=log) ntd catches up with its log, feeding the projections and then the policies; with
NTD_FEED=kafka the policies run in their consumer instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from consumers.policies import PolicyReport
    from ntd.bootstrap import Ntd


class NotEmbedded(RuntimeError):
    """The policies run in their Kafka consumer, not from the event log."""


def run_policies(ntd: Ntd, progress: Callable[[int, int], None] | None = None) -> PolicyReport:
    """Catch the projections and the policies up with the event log; returns what the policies
    did. Events already handled are not handled again."""
    if ntd.settings.feed != "log":
        raise NotEmbedded(
            "NTD_FEED=kafka: the policies run in the consumer `ntd consume policies`, "
            "not from the event log"
        )
    ntd.catch_up(progress)
    assert ntd.policies is not None
    return ntd.policies
