"""What the lists and work queues mean, whichever adapter reads them: which cases a query
matches, the queue's order, what a case awaits from its notifier, what a seller may still do,
and how unread messages are counted.

The queue's order is one key, `queue_key`: open trusted-lane reviews first (a fast-lane
takedown awaiting its post-hoc review), then the cases of the notifiers the viewer is the
account manager of, then the nearest due deadline (cases without one last), then the oldest
filing, then the case id. The SQL adapter writes the same key as its ORDER BY.

A message is unread for a principal when someone else wrote it after the principal last read
the conversation (a read mark, `mark_read`) and after the principal's own last message on the
case (answering shows it was read).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from domain.case import Deadline
from domain.lifecycle import RESOLVED
from projections.models import (
    ActionItem,
    CaseLine,
    CaseQuery,
    CaseSummary,
    NeedsAction,
)
from projections.ports import MessageRecord

ACTIONS = {
    Deadline.CLARIFICATION: NeedsAction.CLARIFICATION,
    Deadline.IDENTIFICATION: NeedsAction.IDENTIFICATION,
    Deadline.RESTORATION: NeedsAction.COUNTER_NOTICE,
}
"""The open deadlines that await the notifier's move, and what each asks of it: answer a
clarification or identification request by its respond-by time, or go to court over a
forwarded counter-notice before the listing is restored."""
DEFAULT_LIMIT = 100


def due_of(deadlines: dict[Deadline, datetime], kind: Deadline | None) -> datetime | None:
    """When the deadline of that kind is due, or with no kind the nearest one; None if none."""
    if kind is not None:
        return deadlines.get(kind)
    return min(deadlines.values(), default=None)


def matches(case: CaseSummary, query: CaseQuery) -> bool:
    """Whether the case is one the query asks for (the viewer's reach included)."""
    if query.reach is not None and case.notifier_id not in query.reach:
        return False
    wanted = (
        (query.notifier_id, case.notifier_id),
        (query.marketplace, case.marketplace),
        (query.seller_id, case.seller_id),
        (query.lane, case.lane),
    )
    if any(value is not None and value != actual for value, actual in wanted):
        return False
    if query.states and case.state not in query.states:
        return False
    if query.open_only and case.state in RESOLVED:
        return False
    if query.deadline is not None and query.deadline not in case.deadlines:
        return False
    if query.due_before is not None:
        due = due_of(case.deadlines, query.deadline)
        return due is not None and due <= query.due_before
    return True


def newest_key(line: CaseLine) -> tuple[float, str]:
    """A list's order: the latest filing first, then by case id."""
    return (-line.filed_at.timestamp(), str(line.case_id))


def queue_key(line: CaseLine, query: CaseQuery) -> tuple[int, int, int, datetime, datetime, str]:
    """The work queue's order (see the module's docstring)."""
    due = due_of(line.deadlines, query.deadline)
    return (
        0 if Deadline.REVIEW in line.deadlines else 1,
        0 if query.viewer is not None and line.account_manager == query.viewer else 1,
        0 if due is not None else 1,
        due or line.filed_at,
        line.filed_at,
        str(line.case_id),
    )


def unread(messages: Iterable[MessageRecord], principal: str, read_up_to: int) -> int:
    """How many of a case's messages `principal` has not read, having read the conversation up
    to the case's version `read_up_to`."""
    kept = list(messages)
    own = max((m.version for m in kept if m.author == principal), default=0)
    seen = max(read_up_to, own)
    return sum(1 for m in kept if m.author != principal and m.version > seen)


def for_seller(line: CaseLine) -> CaseLine:
    """The line as a seller may see it: who complained by id only, no account manager, no
    identification and no conversation."""
    return line.model_copy(
        update={
            "notifier_name": None,
            "account_manager": None,
            "identification_verdict": None,
            "unread": None,
        }
    )


def actions(line: CaseLine) -> list[ActionItem]:
    """What the case awaits from its notifier: one item per open deadline that is its move,
    and one for unread messages."""
    items = [
        ActionItem(
            action=action,
            due=line.deadlines[kind],
            case_id=line.case_id,
            notifier_id=line.notifier_id,
            notifier_name=line.notifier_name,
            marketplace=line.marketplace,
            listing_id=line.listing_id,
            seller_id=line.seller_id,
            state=line.state,
            unread=line.unread or 0,
        )
        for kind, action in ACTIONS.items()
        if kind in line.deadlines
    ]
    if line.unread:
        items.append(
            ActionItem(
                action=NeedsAction.MESSAGES,
                due=None,
                case_id=line.case_id,
                notifier_id=line.notifier_id,
                notifier_name=line.notifier_name,
                marketplace=line.marketplace,
                listing_id=line.listing_id,
                seller_id=line.seller_id,
                state=line.state,
                unread=line.unread,
            )
        )
    return items


def action_key(item: ActionItem) -> tuple[int, datetime, str, str]:
    """Needs-your-action's order: the soonest due first, unread messages after, then by case."""
    return (
        0 if item.due is not None else 1,
        item.due or datetime.max.replace(tzinfo=UTC),
        str(item.case_id),
        item.action.value,
    )


def seller_next(line: CaseLine, now: datetime) -> tuple[str, datetime] | None:
    """What the seller may still do on the case and by when: counter-notice while its window
    is open (until the window's end); None when nothing is left to it."""
    window = line.deadlines.get(Deadline.COUNTER_NOTICE)
    if window is not None and now <= window:
        return "counter-notice", window
    return None
