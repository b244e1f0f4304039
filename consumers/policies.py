"""The policy runner: feeds events to the policies and carries out what they decide.

The same runner serves both feeds: `run_from_log` follows the application's notification log
(embedded mode, `Ntd.catch_up`), and `PolicySink` is the sink of `ntd consume policies` (Kafka).
Per event: the view observes it, `domain.policies.decide` names the commands, the application
carries each out, and the view takes what the aggregate holds afterwards. Commands run before
the batch's position commits; after a crash the batch comes again and the aggregates refuse
what was done (`AlreadyDone`), which counts as done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

import structlog
from eventsourcing.utils import get_topic

from consumers.reach import reopening
from domain.application import ConcurrencyConflict, NtdApplication
from domain.catalog import event_classes
from domain.notifier import Notifier
from domain.policies import Standing, decide
from domain.policy_commands import (
    AdmitToTrustedLane,
    Command,
    LiftSellerSuspension,
    RecordStrike,
    RemoveFromTrustedLane,
    RemoveStrike,
    SellerCommand,
    SuspendSeller,
    WarnNotifier,
)
from domain.seller import Seller
from domain.values import SYSTEM, AlreadyDone, DomainError, DomainEvent
from projections.policy_view import PolicyBatch, PolicyStore, observe
from projections.tracking import Applied, Partition, Span, Tracked

if TYPE_CHECKING:
    from consumers.sink import Consumed

log = structlog.get_logger("ntd.policies")

PAGE_SIZE = 1000


@dataclass
class PolicyReport:
    """What a run did: events handled, and commands by outcome and kind."""

    events: int = 0
    acted: Counter[str] = field(default_factory=Counter)
    """Commands carried out, by command name."""
    already: int = 0
    """Commands found already done (a redelivered event)."""
    refused: Counter[str] = field(default_factory=Counter)
    """Commands the domain refused for another reason, by command name."""

    @property
    def changed(self) -> int:
        """How many commands changed an aggregate (each stored new events)."""
        return sum(self.acted.values())

    def add(self, other: PolicyReport) -> None:
        """Count another run's figures in."""
        self.events += other.events
        self.acted.update(other.acted)
        self.already += other.already
        self.refused.update(other.refused)


class PolicyRunner:
    """Observes, decides and carries out; keeps a report of what it did."""

    def __init__(self, app: NtdApplication) -> None:
        self.app = app
        self.report = PolicyReport()

    def react(self, event: DomainEvent, view: PolicyBatch) -> None:
        """Handle one event: move the view, then carry out every command the policies give."""
        self.report.events += 1
        observe(event, view)
        for command in decide(event, view, self.app.rules):
            self.carry_out(command, view)

    def carry_out(self, command: Command, view: PolicyBatch) -> None:
        """Give one command; settle the view with what the domain now holds."""
        name = type(command).__name__
        bound = log.bind(command=name, cause=command.cause)
        try:
            self._give(command)
        except AlreadyDone as error:
            bound.debug("policy.already_done", reason=str(error))
            self.report.already += 1
            done = True
        except ConcurrencyConflict:
            raise  # the batch fails and comes again
        except DomainError as error:
            bound.info("policy.refused", reason=str(error))
            self.report.refused[name] += 1
            done = False
        else:
            quiet = isinstance(command, RecordStrike | RemoveStrike)
            (bound.debug if quiet else bound.info)("policy.acted", **_facts(command))
            self.report.acted[name] += 1
            done = True
        if isinstance(command, SELLER_COMMANDS):
            if done:
                seller_id = _seller_id(command)
                view.put_seller(view.seller(seller_id).settled(command))
        else:
            view.put_standing(Standing.of(self.app.notifier(command.notifier_id, SYSTEM)))

    def _give(self, command: Command) -> None:
        app = self.app
        if isinstance(command, RecordStrike):
            app.record_strike(
                command.marketplace,
                command.seller_ref,
                command.case_id,
                SYSTEM,
                upheld_at=command.upheld_at,
                notice_id=command.notice_id,
            )
        elif isinstance(command, RemoveStrike):
            app.remove_strike(command.seller_id, command.case_id, command.reason)
        elif isinstance(command, SuspendSeller):
            app.suspend_seller(
                command.seller_id, command.reason, SYSTEM, cause=command.cause, until=command.until
            )
        elif isinstance(command, LiftSellerSuspension):
            app.lift_seller_suspension(
                command.seller_id, command.reason, SYSTEM, cause=command.cause
            )
        elif isinstance(command, AdmitToTrustedLane):
            app.admit_to_trusted_lane(
                command.notifier_id,
                command.takedown_share,
                command.reversal_share,
                command.notices,
                SYSTEM,
                command.cause,
            )
        elif isinstance(command, RemoveFromTrustedLane):
            app.remove_from_trusted_lane(command.notifier_id, command.reason, SYSTEM, command.cause)
        elif isinstance(command, WarnNotifier):
            app.warn_notifier(
                command.notifier_id, command.reason, command.unfounded_share, SYSTEM, command.cause
            )
        else:
            app.suspend_notifier(command.notifier_id, command.reason, None, SYSTEM, command.cause)


SELLER_COMMANDS = (RecordStrike, RemoveStrike, SuspendSeller, LiftSellerSuspension)


def _seller_id(command: SellerCommand) -> UUID:
    if isinstance(command, RecordStrike):
        return Seller.id_for(command.marketplace, command.seller_ref)
    return command.seller_id


def _facts(command: Command) -> dict[str, str]:
    """The ids a log line about the command should carry."""
    names = ("case_id", "seller_id", "notifier_id", "seller_ref")
    return {name: str(getattr(command, name)) for name in names if hasattr(command, name)}


@cache
def watched_topics() -> frozenset[str]:
    """The stored-event topics the policies read; the rest (rights, claims) are skipped unread."""
    ignored = (Notifier.RightRegistered, Notifier.RightVerified, Notifier.RightRejected)
    return frozenset(get_topic(cls) for cls in event_classes() if cls not in ignored)


def run_from_log(
    app: NtdApplication, store: PolicyStore, *, page_size: int = PAGE_SIZE
) -> PolicyReport:
    """Run the policies over the notification log from the store's position to the current end.

    Events that policies store while this runs lie beyond that end; the next run handles them.
    """
    runner = PolicyRunner(app)
    last = app.recorder.max_notification_id() or 0
    position = store.position()
    topics = watched_topics()
    while position < last:
        page = app.recorder.select_notifications(
            start=position + 1, limit=page_size, stop=last, inclusive_of_start=True
        )
        if not page:
            break
        batch = [
            (n.id, cast(DomainEvent, app.mapper.to_domain_event(n)))
            for n in page
            if n.topic in topics
        ]
        store.apply(batch, runner.react, through=page[-1].id)
        position = page[-1].id
    return runner.report


class PolicySink:
    """The sink of `ntd consume policies`: the same runner over records consumed from Kafka."""

    name = "policies"

    def __init__(
        self,
        app: NtdApplication,
        store: PolicyStore,
        reopen: Callable[[], PolicyStore] | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.reopen = reopen
        """Opens the policy view anew, after its database connection was lost."""
        self.runner = PolicyRunner(app)

    def positions(self, partitions: Collection[Partition]) -> dict[Partition, int]:
        """The stored next offset of each given partition that has one."""
        with reopening(self):
            stored = self.store.offsets()
        return {(t, p): stored[(t, p)] for t, p in partitions if (t, p) in stored}

    def apply(self, records: Sequence[Consumed], spans: Mapping[Partition, Span]) -> Applied:
        """React to the batch's new records, each event once; view and offsets commit together
        afterwards. Every record goes to the store, so it knows each aggregate's last version;
        only the events the policies watch reach them."""
        tracked = [Tracked(r.topic, r.partition, r.offset, r.seq, r.event) for r in records]
        before = Counter(self.runner.report.acted)
        with reopening(self):
            applied = self.store.apply_tracked(tracked, spans, self._react)
        acted = self.runner.report.acted - before
        if acted:
            log.info("policies.batch", events=applied.events, **acted)
        return applied

    def _react(self, event: DomainEvent, view: PolicyBatch) -> None:
        if _watched(type(event)):
            self.runner.react(event, view)

    def close(self) -> None:
        """Release the policy view's connection."""
        self.store.close()


@cache
def _watched(event_class: type[Any]) -> bool:
    return get_topic(event_class) in watched_topics()
