"""ChainOverride: the record that someone replaced the read models from an event store whose
hash chain failed its check, who did it and why."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from domain.values import Actor, DomainError, EventSourced, stable_id

REASON_MAX = 2000


class ChainOverride(EventSourced):
    """One override of the chain check: an internal record, kept in the store it concerns."""

    def __init__(self, operation: str, position: int, problem: str, reason: str) -> None:
        self.operation = operation
        self.position = position
        self.problem = problem
        self.reason = reason

    class Recorded(EventSourced.Created):
        operation: str
        position: int
        problem: str
        reason: str = Field(max_length=REASON_MAX)

    @classmethod
    def record_override(
        cls, operation: str, position: int, problem: str, reason: str, actor: Actor, at: datetime
    ) -> ChainOverride:
        """Record that `actor` went on with `operation` despite the chain broken at `position`."""
        if not reason.strip():
            raise DomainError("overriding a broken chain needs a reason (--reason)")
        return cls.start(
            cls.Recorded,
            cls.id_for(operation, position, at),
            actor,
            at,
            operation=operation,
            position=position,
            problem=problem,
            reason=reason.strip(),
        )

    @staticmethod
    def id_for(operation: str, position: int, at: datetime) -> UUID:
        """One record per operation, broken position and moment."""
        return stable_id("chain-override", operation, str(position), at.isoformat())
