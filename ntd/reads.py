"""The queries the entry points share (the CLI's lists, queue and dashboard, the portal's API
and pages): each asks the application service whether the viewer may read first, then catches
the embedded read models up and reads. A rule about who sees what lives in the service's
permission table; these functions only choose the query that fits the viewer.

`caught_up` is how a caller brings the read models up to date: `Ntd.catch_up` by default, the
portal's single catch-up thread or the CLI's progress bar when they call."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.access import SellerKey
from domain.case import (
    Case,
    IdentificationCited,
    IdentificationRequest,
    Lane,
    Listing,
    Message,
    ReasonCode,
    SwornStatement,
)
from domain.catalog import event_type
from domain.lifecycle import Deadline, State
from domain.permissions import Forbidden
from domain.values import (
    Actor,
    ActorKind,
    DomainError,
    RightType,
    SourceType,
    StatementOfReasons,
)
from ntd.bootstrap import Ntd
from ntd.case_view import cited_identification, event_facts, replay_states
from projections.models import (
    ActionItem,
    AuditQuery,
    AuditRow,
    AuditVerification,
    CaseLine,
    CaseQuery,
    Dashboard,
)

CatchUp = Callable[[Ntd], Ntd]
PAGE_MAX = 500
"""The most lines one page of a list holds in the portal (the CLI's --limit is the user's)."""
TAKEDOWN_SAMPLE = 300
"""The most cases read for the time-to-takedown figures (the latest filed)."""


def catch_up(ntd: Ntd) -> Ntd:
    """The default: feed the embedded projections (a no-op when Kafka feeds them)."""
    ntd.catch_up()
    return ntd


class FilterRequired(DomainError):
    """A list needs a filter the viewer did not give (e.g. which of its sellers)."""


class BadCursor(DomainError):
    """A cursor this list did not hand out."""


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- case lists ------------------------------------------------------------------------------


class CaseFilters(Model):
    """The filters of `ntd case list`, a page size and where the page starts."""

    notifier_id: UUID | None = None
    seller: SellerKey | None = None
    states: tuple[State, ...] = ()
    lane: Lane | None = None
    due_before: datetime | None = None
    limit: int = Field(100, ge=1)
    cursor: str | None = None


class CasePage(Model):
    """One page of a case list, the latest filed first; `next_cursor` fetches the next."""

    lines: list[CaseLine]
    next_cursor: str | None = None


def case_lines(
    ntd: Ntd, actor: Actor, query: CaseFilters, caught_up: CatchUp = catch_up
) -> CasePage:
    """The cases the viewer may read that match the filters: platform staff every notifier's,
    a notifier's user its notifiers', a seller's user its own seller's."""
    app = ntd.app
    reach = app.notifiers_in_reach("read_cases", actor)  # refused before any catch-up
    seller = query.seller
    as_seller = actor.kind is ActorKind.SELLER
    if as_seller:
        seller = seller or _own_seller(ntd, actor)
        app.may_read("read_cases", actor, seller=seller)  # another seller's: not found
    if query.notifier_id is not None and not as_seller:
        app.may_read("read_cases", actor, notifier_id=query.notifier_id)
    after = _cursor_key(query.cursor) if query.cursor else None
    ntd = caught_up(ntd)
    base = CaseQuery(
        reach=None if as_seller else reach,
        notifier_id=query.notifier_id,
        marketplace=seller.marketplace if seller else None,
        seller_id=seller.seller_ref if seller else None,
        states=query.states,
        lane=query.lane,
        due_before=query.due_before,
        viewer=None if as_seller else str(actor.principal),
        for_seller=as_seller,
    )
    return _page(ntd, base, query.limit, after)


CURSOR_MAX = 200
"""A cursor this list hands out is about 100 characters long."""
SERVED_MAX = 10_000_000
"""Lines a cursor may say were served already: far beyond any list, bounded all the same."""


def _page(ntd: Ntd, base: CaseQuery, limit: int, after: tuple[float, str, int] | None) -> CasePage:
    """Keyset paging over a list the store orders (-filed_at, case_id): the cursor holds the
    last line's key, so lines filed meanwhile neither repeat nor hide lines. The store has no
    "after" filter, so the window read grows to reach the key (served count + page)."""
    served = after[2] if after else 0
    window = served + limit + 1
    while True:
        lines = ntd.read_store.case_list(base.model_copy(update={"limit": window}))
        rest = [x for x in lines if after is None or _key(x) > after[:2]]
        if len(rest) > limit or len(lines) < window:
            break
        window *= 2
    shown = rest[:limit]
    more = len(rest) > limit
    cursor = _cursor(shown[-1], served + len(shown)) if more and shown else None
    return CasePage(lines=shown, next_cursor=cursor)


def _key(line: CaseLine) -> tuple[float, str]:
    return (-line.filed_at.timestamp(), str(line.case_id))


def _cursor(line: CaseLine, served: int) -> str:
    raw = json.dumps([line.filed_at.timestamp(), str(line.case_id), served])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_key(text: str) -> tuple[float, str, int]:
    """The key a cursor holds, read strictly: a cursor comes back from the client, so any
    text may arrive (and `served` sizes the window read)."""
    try:
        if len(text) > CURSOR_MAX:
            raise ValueError(text)
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(raw, list) or len(raw) != 3:
            raise ValueError(text)
        stamp, case_id, served = raw
        if not isinstance(stamp, int | float) or not math.isfinite(stamp):
            raise ValueError(text)
        if not isinstance(served, int) or not 0 <= served <= SERVED_MAX:
            raise ValueError(text)
        return (-float(stamp), str(UUID(str(case_id))), served)
    except (ValueError, TypeError, RecursionError):
        raise BadCursor("cursor: not one this list handed out (start again without it)") from None


def _own_seller(ntd: Ntd, actor: Actor) -> SellerKey:
    """The one seller a seller's user acts for, when it acts for exactly one."""
    sellers = sorted({g.seller for g in ntd.app.own_grants(actor) if g.seller}, key=str)
    if len(sellers) != 1:
        names = ", ".join(map(str, sellers)) or "none"
        raise FilterRequired(
            f"seller: name the seller whose cases to list, MARKETPLACE/SELLER_ID (yours: {names})"
        )
    return sellers[0]


# -- the work queue and what awaits a notifier -----------------------------------------------


class QueueFilters(Model):
    """The filters of `ntd queue`."""

    notifier_id: UUID | None = None
    lane: Lane | None = None
    states: tuple[State, ...] = ()
    deadline: Deadline | None = None
    limit: int = Field(100, ge=1)


class Elsewhere(NamedTuple):
    """Where a party's user finds instead what the work queue would show it, in the words of
    the entry point that refuses it the queue."""

    seller: str = "a seller's user lists its own cases"
    notifier: str = "a notifier's user sees what awaits it under needs-action"


def queue_lines(
    ntd: Ntd,
    actor: Actor,
    filters: QueueFilters,
    caught_up: CatchUp = catch_up,
    elsewhere: Elsewhere = Elsewhere(),
) -> list[CaseLine]:
    """The platform staff's work queue (see projections/queues.py for its order)."""
    reach = ntd.app.notifiers_in_reach("read_cases", actor)  # refused before any catch-up
    if reach is not None:
        where = elsewhere.seller if actor.kind is ActorKind.SELLER else elsewhere.notifier
        raise Forbidden(f"the work queue is the platform staff's; {where}")
    if filters.notifier_id is not None:
        ntd.app.may_read("read_cases", actor, notifier_id=filters.notifier_id)
    ntd = caught_up(ntd)
    query = CaseQuery(
        notifier_id=filters.notifier_id,
        lane=filters.lane,
        states=filters.states,
        deadline=filters.deadline,
        viewer=str(actor.principal),
        limit=filters.limit,
    )
    return ntd.read_store.queue(query)


def needs_action(
    ntd: Ntd, actor: Actor, notifier_id: UUID, caught_up: CatchUp = catch_up
) -> list[ActionItem]:
    """What awaits the notifier's action: requests to answer, forwarded counter-notices,
    unread messages (the viewer's). A seller's role never reaches a notifier: not found."""
    ntd.app.may_read("read_cases", actor, notifier_id=notifier_id)
    ntd = caught_up(ntd)
    return ntd.read_store.needs_action(frozenset({notifier_id}), str(actor.principal))


def dashboard(
    ntd: Ntd, actor: Actor, notifier_id: UUID, at: datetime, caught_up: CatchUp = catch_up
) -> Dashboard:
    """A notifier's figures as they stood at `at`."""
    ntd.app.may_read("read_dashboard", actor, notifier_id=notifier_id)
    ntd = caught_up(ntd)
    return ntd.read_store.dashboard(notifier_id, at, ntd.app.rules, viewer=str(actor.principal))


def takedown_hours(
    ntd: Ntd,
    actor: Actor,
    notifier_id: UUID,
    since: datetime,
    until: datetime,
    caught_up: CatchUp = catch_up,
) -> list[float]:
    """Hours from filing to takedown of the notifier's cases filed between `since` and
    `until` and taken down by `until` (among its latest TAKEDOWN_SAMPLE filed)."""
    ntd.app.may_read("read_dashboard", actor, notifier_id=notifier_id)
    ntd = caught_up(ntd)
    store = ntd.read_store
    found = []
    for line in store.case_list(CaseQuery(notifier_id=notifier_id, limit=TAKEDOWN_SAMPLE)):
        if not since <= line.filed_at <= until:
            continue
        summary = store.case(line.case_id)
        down = summary.taken_down_at if summary is not None else None
        if summary is not None and down is not None and down <= until:
            found.append((down - summary.filed_at).total_seconds() / 3600)
    return found


def notifiers_of(ntd: Ntd, actor: Actor, caught_up: CatchUp = catch_up) -> list[tuple[UUID, str]]:
    """The notifiers whose dashboards the viewer may read, by name (every one for the staff)."""
    reach = ntd.app.notifiers_in_reach("read_dashboard", actor)
    ntd = caught_up(ntd)
    known = ntd.read_store.notifiers()
    return sorted(
        ((n.notifier_id, n.name) for n in known if reach is None or n.notifier_id in reach),
        key=lambda pair: pair[1].lower(),
    )


# -- one case --------------------------------------------------------------------------------


class TimelineEntry(Model):
    """One event of a case: when, who, what, and the state it left the case in."""

    version: int
    at: datetime
    actor: str
    event_type: str
    state: State
    facts: str
    """The event's key facts on one line, as `ntd case show` words them."""
    payload: dict[str, Any]


class CaseDetail(Model):
    """A case as the viewer may see it: where it stands, why, and how it got there; the
    conversation only for a viewer who may read it (never a seller)."""

    case_id: UUID
    version: int
    state: State
    lane: Lane
    notice_id: UUID
    client_notice_id: UUID | None
    notifier_id: UUID
    notifier_name: str | None
    right_id: UUID
    right_type: RightType
    listing: Listing
    sworn: SwornStatement | None
    reason_code: ReasonCode
    source_type: SourceType
    deadlines: dict[Deadline, datetime]
    missed: list[Deadline]
    reasons: StatementOfReasons | None
    taken_down_at: datetime | None
    counter_noticed: bool
    litigation: bool
    identification_request: IdentificationRequest | None
    identification: IdentificationCited | None
    identification_cited: IdentificationCited | None
    """The answer the latest decision cited, if it cited one."""
    timeline: list[TimelineEntry]
    conversation: list[Message] | None = None
    """None when the viewer may not read the conversation."""
    as_of: datetime | None = None


def reads_conversation(ntd: Ntd, actor: Actor, notifier_id: UUID) -> bool:
    """Whether the permission table lets the viewer read this notifier's conversations."""
    try:
        ntd.app.may_read("read_conversations", actor, notifier_id=notifier_id)
    except DomainError:
        return False
    return True


def case_detail(
    ntd: Ntd,
    actor: Actor,
    case_id: UUID,
    version: int | None = None,
    as_of: datetime | None = None,
) -> CaseDetail:
    """The case now, at a version, or as it stood at a moment (read from its events, so always
    current). Reading the current case marks its conversation read, as `ntd case show` does."""
    app = ntd.app
    if version is not None and as_of is not None:
        raise FilterRequired("version: give either version or as_of, not both")
    if as_of is not None:
        case = app.case_as_of(case_id, as_of, actor)
    else:
        case = app.case(case_id, actor, version)
    events = [e for e in app.case_events(case_id, actor) if e.originator_version <= case.version]
    conversation = reads_conversation(ntd, actor, case.notifier_id)
    if conversation and version is None and as_of is None:
        ntd.read_store.mark_read(str(actor.principal), case_id, case.version)
    return _detail(ntd, actor, case, events, conversation, as_of)


def _detail(
    ntd: Ntd,
    actor: Actor,
    case: Case,
    events: Sequence[Any],
    conversation: bool,
    as_of: datetime | None,
) -> CaseDetail:
    try:
        name: str | None = ntd.app.notifier(case.notifier_id, actor).name
    except DomainError:  # a seller sees who complained by id only
        name = None
    timeline = [
        TimelineEntry(
            version=e.originator_version,
            at=e.timestamp,
            actor=str(e.actor),
            event_type=event_type(type(e)),
            state=state,
            facts=event_facts(e),
            payload=e.model_dump(
                mode="json",
                exclude={"originator_id", "originator_version", "timestamp", "actor"},
            ),
        )
        for e, state in zip(events, replay_states(events), strict=True)
    ]
    return CaseDetail(
        case_id=case.id,
        version=case.version,
        state=case.state,
        lane=case.lane,
        notice_id=case.notice_id,
        client_notice_id=case.client_notice_id,
        notifier_id=case.notifier_id,
        notifier_name=name,
        right_id=case.right_id,
        right_type=case.right_type,
        listing=case.listing,
        sworn=case.sworn,
        reason_code=case.reason_code,
        source_type=case.source_type,
        deadlines=dict(case.deadlines),
        missed=list(case.missed),
        reasons=case.reasons,
        taken_down_at=case.taken_down_at,
        counter_noticed=case.counter_noticed,
        litigation=case.litigation,
        identification_request=case.identification_request,
        identification=case.identification,
        identification_cited=cited_identification(events),
        timeline=timeline,
        conversation=list(case.messages) if conversation else None,
        as_of=as_of,
    )


def conversation(ntd: Ntd, actor: Actor, case_id: UUID) -> tuple[list[Message], int]:
    """The case's conversation between the notifier's side and the staff, oldest first, and
    the case's version (a seller may read the case but never this: Forbidden); reading it
    marks it read."""
    ntd.app.notifiers_in_reach("read_conversations", actor)  # refused before the case is read
    case = ntd.app.case(case_id, actor)
    ntd.app.may_read("read_conversations", actor, notifier_id=case.notifier_id)
    ntd.read_store.mark_read(str(actor.principal), case_id, case.version)
    return list(case.messages), case.version


def latest_version(ntd: Ntd, actor: Actor, case_id: UUID) -> int:
    """The case's latest version, read from its events (always current)."""
    return int(ntd.app.case_events(case_id, actor)[-1].originator_version)


def read_model_version(ntd: Ntd, case_id: UUID) -> int:
    """The version of the case the read models hold (its audit chain's last row), 0 if none.
    Only for a caller that has already read the case through the service."""
    stream = ntd.read_store.audit_query(AuditQuery(case_id=case_id))
    try:
        return max((row.version for row in stream if row.aggregate_id == case_id), default=0)
    finally:
        close(stream)


def wait_for_version(
    ntd: Ntd,
    case_id: UUID,
    version: int,
    within: float,
    caught_up: CatchUp = catch_up,
    pause: float = 0.05,
) -> bool:
    """Whether the read models reach `version` of the case within `within` seconds
    (read-your-writes for the reads that follow a command)."""
    deadline = time.monotonic() + within
    while True:
        ntd = caught_up(ntd)
        if read_model_version(ntd, case_id) >= version:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))


# -- the audit trail -------------------------------------------------------------------------


def audit_rows(
    ntd: Ntd, actor: Actor, query: AuditQuery, caught_up: CatchUp = catch_up
) -> Iterator[AuditRow]:
    """Matching audit rows, oldest first, streamed; close the iterator when stopping early."""
    ntd.app.may_read("read_audit", actor)
    ntd = caught_up(ntd)
    return ntd.read_store.audit_query(query)


def close(stream: Iterator[Any]) -> None:
    """End a streamed query stopped early, before its borrowed system or store closes."""
    end = getattr(stream, "close", None)
    if end is not None:
        end()


def audit_verify(ntd: Ntd, actor: Actor, caught_up: CatchUp = catch_up) -> AuditVerification:
    """Walk every audit chain; the first broken link, if any."""
    ntd.app.may_read("read_audit", actor)
    return caught_up(ntd).read_store.verify_audit()
