"""The application service's base: the store, the clock, the rules, and the plumbing every
command goes through (the permission check, reading, changing and saving aggregates). The
commands live in one module per aggregate (access, notifiers, cases, sellers);
domain/application.py joins them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.domain import Aggregate, EventSourcingError
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent

from domain.access import (
    NOTIFIER_ROLES,
    SELLER_ROLES,
    AccessSetUp,
    Grant,
    Principal,
    SellerKey,
)
from domain.calendar import BusinessCalendar
from domain.case import Case
from domain.listing_claim import ListingClaim
from domain.notifier import Notifier
from domain.permissions import ROW_OF_GRANT, Target, allowed
from domain.rules import Rules
from domain.seller import Seller
from domain.values import (
    SYSTEM,
    Actor,
    ActorKind,
    Clock,
    CorruptEvent,
    DomainError,
    NotFound,
    Role,
    StaleVersion,
)

A = TypeVar("A", bound=Aggregate)
P = TypeVar("P", Notifier, Seller)
"""The aggregates `_change` changes (a case goes through `_change_case`)."""
ATTEMPTS = 5

Change = Callable[[A, datetime, Actor], None]
"""A command's change to one aggregate: given it, the time, and the actor stamped with the
role the command was allowed under."""


class BatchReader(Protocol):
    """Reads the stored events of many aggregates at once (a store adapter may provide it)."""

    def stored_events(self, aggregate_ids: Sequence[UUID]) -> Iterable[StoredEvent]: ...


class ConcurrencyConflict(DomainError):
    """Someone else kept changing the same aggregate; the command was not applied."""


class SystemClock:
    """The host's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class Service(Application[UUID]):
    """Commands of notice-and-takedown over event-sourced aggregates: what every command shares."""

    name = "ntd"
    env = {"MAPPER_TOPIC": "domain.mapping:PydanticMapper"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Clock | None = None,
        calendar: BusinessCalendar | None = None,
        rules: Rules | None = None,
        batch_reader: BatchReader | None = None,
    ) -> None:
        super().__init__(env)
        self.batch_reader = batch_reader
        self.clock: Clock = clock or SystemClock()
        self.calendar = calendar or BusinessCalendar()
        self.rules = rules or Rules()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, collecting our aggregates' events by class instead of through
        its runtime-Protocol isinstance checks, which cost some 27 µs per aggregate on Python
        3.11 (a sixth of filing a 300-listing notice). Anything else goes the library's way."""
        processing = ProcessingEvent[UUID]()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            else:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # the library's save does it too (deprecated there)
        return recordings

    # -- plumbing ------------------------------------------------------------------------------

    def _held(self, actor: Actor) -> list[Grant]:
        """The grants the actor's principal holds now (none for the system or a stranger)."""
        if actor.kind is ActorKind.SYSTEM:
            return []
        principal = self._find(Principal, Principal.id_for(actor))
        return list(principal.grants) if principal is not None else []

    def _load_many(self, ids: Sequence[UUID]) -> dict[UUID, Any]:
        """The aggregates among `ids` that exist, folded from their stored events in one query
        when the store allows it (the library reads one aggregate a query)."""
        if self.batch_reader is None:
            found = {i: self._find(Aggregate, i) for i in ids}
            return {i: a for i, a in found.items() if a is not None}
        loaded: dict[UUID, Any] = {}
        for stored in self.batch_reader.stored_events(ids):
            with _folding(stored.originator_id):
                event: Any = self.mapper.to_domain_event(stored)
                loaded[event.originator_id] = event.mutate(loaded.get(event.originator_id))
        return loaded

    def _read_for(
        self, command: str, actor: Actor, kind: type[A], aggregate_id: UUID
    ) -> tuple[Callable[[Target], Actor], A]:
        """The command's scope check and the aggregate it names, read together when the store
        has a batch reader (the principal's grants cost no query of their own: a fifth of
        filing one case when they did). Refused before the aggregate is looked at unless some
        role of the actor allows the command at all."""
        if self.batch_reader is None:
            scoped = self._scoped(command, actor)
            return scoped, self._get(kind, aggregate_id)
        loaded = self._load_many([*principal_ids(actor), aggregate_id])
        held = grants_in(actor, loaded)
        allowed(command, actor, held)
        aggregate = loaded.get(aggregate_id)
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}")
        return (
            lambda target: actor.principal.acting_as(allowed(command, actor, held, target))
        ), aggregate

    def _scoped(self, command: str, actor: Actor) -> Callable[[Target], Actor]:
        """Refuse now, before anything is read, unless some role of the actor allows the
        command; then, given what the command acts on, the actor stamped with the role that
        reaches it (or NotFound: another party's records are not there for it)."""
        held = self._held(actor)
        allowed(command, actor, held)
        return lambda target: actor.principal.acting_as(allowed(command, actor, held, target))

    def _authorize(self, command: str, actor: Actor, target: Target) -> Actor:
        """The actor stamped with the role under which it may give the command to the target."""
        return self._scoped(command, actor)(target)

    def _access_change(self, grant: Grant, actor: Actor) -> Actor:
        """Who may grant or revoke depends on the role: the table's row for its kind."""
        command = ROW_OF_GRANT[group_of(grant.role)]
        if grant.notifier_id is not None:
            name = f"notifier {grant.notifier_id}"
        else:
            name = f"seller {grant.seller}" if grant.seller else "the platform's staff"
        target = Target(name, notifier_id=grant.notifier_id, seller=grant.seller)
        by = self._authorize(command, actor, target)
        if grant.notifier_id is not None:
            self._get(Notifier, grant.notifier_id)
        return by

    def _change_principal(
        self,
        who: Actor,
        by: Actor,
        change: Callable[[Principal, AccessSetUp | None, datetime], None],
        admins: bool = False,
    ) -> None:
        """Change someone's grants (enrolling them on their first); with `admins`, also the
        store's set of admins, saved together."""
        for _ in range(ATTEMPTS):
            now = self.clock.now()
            principal = self._find(Principal, Principal.id_for(who)) or Principal.enrol(
                who, by, now
            )
            setup = self._find(AccessSetUp, AccessSetUp.ID) if admins else None
            change(principal, setup, now)
            try:
                self.save(principal, *([setup] if setup is not None else []))
            except IntegrityError:
                continue
            return
        raise ConcurrencyConflict(f"{who.principal} kept changing under this command; retry")

    def _get(self, kind: type[A], aggregate_id: UUID, version: int | None = None) -> A:
        try:
            with _folding(aggregate_id):
                aggregate: Aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}")
        return aggregate

    def _find(self, kind: type[A], aggregate_id: UUID) -> A | None:
        """The aggregate, or None when nothing has that id. An aggregate of another kind there is
        an error, not an absence: creating one in its place could never be saved."""
        try:
            with _folding(aggregate_id):
                aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, kind):
            raise DomainError(
                f"id {aggregate_id} names a {type(aggregate).__name__.lower()}, "
                f"not a {kind.__name__.lower()}"
            )
        return aggregate

    def _change(
        self, kind: type[P], aggregate_id: UUID, command: str, actor: Actor, change: Change[P]
    ) -> P:
        """Give a command to one aggregate: refused unless some role of the actor allows it, and
        unless one that reaches this aggregate's parties does."""
        scoped, aggregate = self._read_for(command, actor, kind, aggregate_id)
        for attempt in range(ATTEMPTS):
            if attempt:
                aggregate = self._get(kind, aggregate_id)
            change(aggregate, self.clock.now(), scoped(target_of(aggregate)))
            try:
                self.save(aggregate)
            except IntegrityError:
                continue
            return aggregate
        raise ConcurrencyConflict(
            f"{kind.__name__.lower()} {aggregate_id} kept changing under this command; retry"
        )

    def _change_case(
        self,
        command: str,
        case_id: UUID,
        actor: Actor,
        change: Change[Case],
        expected: int | None = None,
    ) -> Case:
        """Change a case; when it resolves, free its listing for new notices in the same save.
        With `expected`, only if the case is still at that version (checked again on every
        retry: of two deciders who saw one version, the second is refused, not re-applied)."""
        scoped, case = self._read_for(command, actor, Case, case_id)
        for attempt in range(ATTEMPTS):
            if attempt:
                case = self._get(Case, case_id)
            by = scoped(target_of(case))
            if expected is not None and case.version != expected:
                raise StaleVersion(
                    f"case {case_id} is at version {case.version}, not {expected}: "
                    "it changed since you read it; read it again and decide on what it is now"
                )
            now = self.clock.now()
            change(case, now, by)
            pending: list[Aggregate] = [case]
            if case.is_resolved:
                claim = self._listing_claim(case)
                claim.release(case.id, SYSTEM, now)
                pending.append(claim)
            try:
                self.save(*pending)
            except IntegrityError:
                continue
            return case
        raise ConcurrencyConflict(f"case {case_id} kept changing under this command; retry")

    def _listing_claim(self, case: Case) -> ListingClaim:
        """The claim of the case's listing. A case filed before ids were collision-free may be
        held by the claim under the former id (values.former_id), maybe opened for a colliding
        listing: the claim holding this very case is the one to release."""
        key = (case.notifier_id, case.listing.marketplace, case.listing.listing_id)
        claim_id, former = ListingClaim.id_for(*key), ListingClaim.former_id_for(*key)
        if former is None:
            return self._get(ListingClaim, claim_id)
        found = [c for i in (claim_id, former) if (c := self._find(ListingClaim, i)) is not None]
        if not found:
            raise NotFound(f"no listingclaim {claim_id}")
        holding = [c for c in found if c.open_case_id == case.id]
        return (holding or found)[0]

    def _save_new(self, aggregate: Aggregate, exists: str) -> None:
        try:
            self.save(aggregate)
        except IntegrityError:
            raise DomainError(exists) from None


def principal_ids(actor: Actor) -> list[UUID]:
    """The id of the actor's principal, to read with what a command names (none for ntd)."""
    return [] if actor.kind is ActorKind.SYSTEM else [Principal.id_for(actor)]


def grants_in(actor: Actor, loaded: dict[UUID, Any]) -> list[Grant]:
    """The actor's grants among aggregates read together, taken out of them."""
    principal = loaded.pop(Principal.id_for(actor), None)
    return list(principal.grants) if isinstance(principal, Principal) else []


def group_of(role: Role) -> str:
    if role in NOTIFIER_ROLES:
        return "notifier"
    return "seller" if role in SELLER_ROLES else "staff"


def target_of(subject: Case | Case.Filed | Notifier | Seller) -> Target:
    """What the permission table's scopes look at: the parties of a case, notifier or seller."""
    if isinstance(subject, Notifier):
        return Target(f"notifier {subject.id}", notifier_id=subject.id)
    if isinstance(subject, Seller):
        key = SellerKey(marketplace=subject.marketplace, seller_ref=subject.seller_ref)
        return Target(f"seller {subject.id}", seller=key)
    listing = subject.listing
    case_id = subject.originator_id if isinstance(subject, Case.Filed) else subject.id
    seller = SellerKey(marketplace=listing.marketplace, seller_ref=listing.seller_id)
    return Target(f"case {case_id}", notifier_id=subject.notifier_id, seller=seller)


@contextmanager
def _folding(aggregate_id: object) -> Iterator[None]:
    """Folding an aggregate's stored events: one written by ntd always folds, so a failure here
    means the store was changed outside ntd (an event deleted, swapped or edited). It is told
    as CorruptEvent naming the aggregate, never as the library's traceback."""
    try:
        yield
    except (DomainError, AggregateNotFoundError):
        raise
    except (EventSourcingError, KeyError, AttributeError, TypeError, ValueError) as error:
        reason = f"{type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''}"
        raise CorruptEvent(
            f"the stored events of {aggregate_id} are corrupt (changed outside ntd): {reason}"
        ) from None
