"""What the read side answers with: frozen pydantic models, the shapes the CLI and reports use."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_serializer

from domain.case import Authenticity, Deadline, Lane, State
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
    counter_noticed_at: datetime | None = None
    reversed_at: datetime | None = None
    """When the listing was first reinstated after its takedown."""
    withdrawn_at: datetime | None = None
    identification_requested_at: datetime | None = None
    """When the latest identification request was made."""
    identification_answered_at: datetime | None = None
    identification_verdict: Authenticity | None = None
    """The notifier's latest answer to an identification request."""


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
    """Notices (distinct notice ids) that opened the cases filed in the window."""
    cases: int
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


class IdentificationFigures(Model):
    """The notifier's authenticity identifications: what it was asked and how it answered."""

    requested: int
    answered: int
    lapsed: int
    """Requests whose deadline passed unanswered (a `deadline_missed` event)."""
    open: int
    """Requests awaiting an answer at the time of the figures."""
    verdicts: dict[Authenticity, int]
    answer_p50_hours: float | None
    """Median time from request to answer, in calendar hours (nearest rank, like the
    time-to-takedown percentiles); None before any answer."""


class ActionFigures(Model):
    """What awaits the notifier's action at the time of the figures."""

    clarifications: int
    """Clarification requests awaiting its answer."""
    identifications: int
    """Identification requests awaiting its verdict."""
    forwarded_counter_notices: int
    """Counter-notices forwarded to it whose restoration date has not come (it may sue)."""
    unread_messages: int | None
    """Messages on its cases that the viewer has not read; None when no viewer was named."""


class Dashboard(Model):
    """A notifier's figures as they stood at `as_of` (every figure counts only what had
    happened by then), net of reversals; rates are None when their denominator is 0."""

    notifier_id: UUID
    name: str | None
    """None when no notifier with this id is known."""
    as_of: datetime
    notices: int
    """Notices (distinct notice ids) filed; each opens one case per listing."""
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
    identification: IdentificationFigures
    needs_action: ActionFigures


class NotifierSummary(Model):
    """A notifier, its lane and how many cases it has filed."""

    notifier_id: UUID
    name: str
    in_trusted_lane: bool
    cases: int
    account_manager: str | None = None
    """The platform's account manager for the notifier (`agent:ID`), if one is assigned."""


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


# -- lists and queues --------------------------------------------------------------------------


class CaseQuery(Model):
    """Which cases a list or a queue shows: every filter optional, all combined with AND."""

    reach: frozenset[UUID] | None = None
    """The notifiers whose cases the viewer may read; None: every notifier."""
    notifier_id: UUID | None = None
    marketplace: str | None = None
    seller_id: str | None = None
    states: tuple[State, ...] = ()
    lane: Lane | None = None
    deadline: Deadline | None = None
    """Only cases with an open deadline of this kind, which is then the one `due_before` and
    the queue's order go by."""
    due_before: AwareDatetime | None = None
    """Only cases whose nearest open deadline (of the kind asked, if any) is due by then."""
    open_only: bool = False
    """Only cases not yet resolved."""
    viewer: str | None = None
    """The principal (`kind:id`) the list is for: its unread counts are given and, in a
    queue, the cases of the notifiers it is the account manager of come early."""
    for_seller: bool = False
    """A seller's view: no notifier name, account manager, identification or messages."""
    limit: int | None = Field(None, ge=1)


class CaseLine(Model):
    """One case in a list or a work queue."""

    case_id: UUID
    notice_id: UUID
    notifier_id: UUID
    notifier_name: str | None
    account_manager: str | None
    marketplace: str
    listing_id: str
    seller_id: str
    state: State
    lane: Lane
    filed_at: datetime
    deadlines: dict[Deadline, datetime]
    """Open deadlines, kind to due time."""
    identification_verdict: Authenticity | None = None
    """The notifier's latest answer to an identification request, if any."""
    unread: int | None = None
    """Messages on the case the viewer has not read; None when not counted (a seller never
    sees the conversation)."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_deadline(self) -> Deadline | None:
        """The open deadline due first, if any."""
        if not self.deadlines:
            return None
        return min(self.deadlines, key=lambda kind: (self.deadlines[kind], kind.value))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def next_due_at(self) -> datetime | None:
        """When the first open deadline is due."""
        kind = self.next_deadline
        return None if kind is None else self.deadlines[kind]


class NeedsAction(StrEnum):
    """What a case awaits from its notifier."""

    CLARIFICATION = "clarification"
    """Answer the platform's clarification request, by its respond-by time."""
    IDENTIFICATION = "identification"
    """Say whether the listing's goods are genuine, by the request's respond-by time."""
    COUNTER_NOTICE = "counter_notice"
    """A counter-notice was forwarded: report litigation before the listing is restored."""
    MESSAGES = "messages"
    """Read the case's new messages."""


class ActionItem(Model):
    """One thing a notifier's user must do on one case, and by when."""

    action: NeedsAction
    due: datetime | None
    """Respond by (clarification, identification) or the restoration date (counter-notice)."""
    case_id: UUID
    notifier_id: UUID
    notifier_name: str | None
    marketplace: str
    listing_id: str
    seller_id: str
    state: State
    unread: int
    """Messages on the case the viewer has not read."""
