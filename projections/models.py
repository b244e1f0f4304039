"""What the read side answers with: frozen pydantic models, the shapes the CLI and reports use."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from domain.case import Deadline, Lane, State
from domain.values import AwareDatetime
from projections.encoding import stamp


class Model(BaseModel):
    """Base of the read models: immutable, no stray fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class CaseSummary(Model):
    """One case as the dashboard sees it: where it stands and what happened to it."""

    case_id: UUID
    notice_id: UUID
    notifier_id: UUID
    marketplace: str
    listing_id: str
    seller_id: str
    state: State
    lane: Lane
    filed_at: datetime
    taken_down_at: datetime | None = None
    declined_at: datetime | None = None
    counter_noticed: bool = False
    reversed: bool = False
    """After a takedown the listing was reinstated (reversal, upheld appeal, restoration)."""
    withdrawn: bool = False
    deadlines: dict[Deadline, datetime] = Field(default_factory=dict)
    """Open deadlines, kind to due time, exactly as the case aggregate holds them."""


class SellerFigure(Model):
    """A seller and its takedowns by one notifier, net of reversals."""

    seller_id: str
    marketplace: str
    takedowns: int


class TrustedFigures(Model):
    """The trusted-lane standing and the windowed figures behind it."""

    window_days: int
    window_start: datetime
    """Cases filed in [window_start, as_of] count."""
    notices: int
    """Cases (noticed listings) filed in the window."""
    decided: int
    settled: int
    """Decided notices past their counter-notice window: what `min_notices` counts."""
    taken_down: int
    reversed: int
    takedown_share: float | None
    reversal_share: float | None
    min_takedown_share: float
    max_reversal_share: float
    min_notices: int
    qualifies: bool
    in_trusted_lane: bool


class Dashboard(Model):
    """A notifier's figures, net of reversals; rates are None when their denominator is 0."""

    notifier_id: UUID
    name: str | None
    """None when no notifier with this id is known."""
    as_of: datetime
    cases: int
    cases_by_state: dict[State, int]
    filed_per_day: dict[str, int]
    """ISO date (UTC) to cases filed that day; only days with filings."""
    decided: int
    taken_down: int
    reversed: int
    declined: int
    counter_noticed: int
    withdrawn: int
    takedown_rate: float | None
    """(taken_down - reversed) / decided."""
    decline_rate: float | None
    counter_notice_rate: float | None
    reversal_rate: float | None
    time_to_takedown_p50_hours: float | None
    """Nearest-rank percentiles of TakenDown minus Filed, over taken-down cases."""
    time_to_takedown_p90_hours: float | None
    open_deadlines: dict[Deadline, int]
    breaches: dict[Deadline, int]
    top_sellers: tuple[SellerFigure, ...]
    trusted: TrustedFigures


class NotifierSummary(Model):
    """A notifier, its lane and how many cases it has filed."""

    notifier_id: UUID
    name: str
    in_trusted_lane: bool
    cases: int


class AuditQuery(Model):
    """Filters of the audit trail, all optional and combined with AND; since ≤ time < until."""

    case_id: UUID | None = None
    notice_id: UUID | None = None
    notifier_id: UUID | None = None
    seller_id: str | None = None
    actor: str | None = None
    event_type: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class AuditRow(Model):
    """One immutable row of the audit trail, chained to the previous row of its aggregate."""

    seq: int
    event_id: str
    aggregate_type: str
    aggregate_id: UUID
    version: int
    notice_id: UUID | None
    notifier_id: UUID | None
    seller_id: str | None
    actor: str
    event_type: str
    occurred_at: datetime
    payload: str
    reasons: str | None
    prev_hash: str
    hash: str

    @field_serializer("occurred_at", when_used="json")
    def _as_stored(self, moment: datetime) -> str:
        """In JSON the time reads exactly as it was hashed."""
        return stamp(moment)


class BrokenLink(Model):
    """Where an audit chain breaks and what is wrong there."""

    aggregate_id: str
    """As stored (text), so a tampered, malformed id can still be named."""
    seq: int
    event_id: str | None
    problem: str


class AuditVerification(Model):
    """The result of walking every audit chain."""

    ok: bool
    chains: int
    rows: int
    first_broken: BrokenLink | None


class DueDeadline(Model):
    """An open deadline of a case that has come due."""

    case_id: UUID
    deadline: Deadline
    due_at: datetime
