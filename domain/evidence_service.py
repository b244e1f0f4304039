"""Commands on the evidence itself: recording an override of the event store's chain check."""

from __future__ import annotations

from uuid import UUID

from domain.chain_override import ChainOverride
from domain.permissions import Target
from domain.service import Service
from domain.values import Actor


class EvidenceService(Service):
    """What is recorded about the evidence, beside the cases it is evidence of."""

    def override_broken_chain(
        self, operation: str, position: int, problem: str, reason: str, actor: Actor
    ) -> UUID:
        """Record that `actor` goes on with `operation` (a rebuild) although the event store's
        chain is broken at `position`, and why; returns the record's id."""
        by = self._authorize("override_broken_chain", actor, Target("the event store"))
        record = ChainOverride.record_override(
            operation, position, problem, reason, by, self.clock.now()
        )
        self.save(record)
        return record.id
