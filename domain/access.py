"""Principal: who may act in ntd, with the roles granted to it, their scopes and their history.

A principal is an actor without a role (`agent:alice`, `notifier_user:j.moreau`,
`seller:s5-ops`). Its grants and revocations are events, so "who was allowed to do this at the
time" replays like everything else (`Principal.held_at`). Which commands a role allows is the
table in domain/permissions.py; which roles a principal may hold, and what each must be scoped
to, is decided here.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from domain.values import (
    Actor,
    ActorKind,
    AlreadyDone,
    AwareDatetime,
    DomainError,
    EventSourced,
    Frozen,
    Role,
    identifier,
    stable_id,
)

STAFF_ROLES = frozenset(
    {Role.AGENT, Role.ACCOUNT_MANAGER, Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN}
)
"""The platform's own people; their roles reach every notifier and seller."""
NOTIFIER_ROLES = frozenset({Role.NOTIFIER_ADMIN, Role.REPORTER, Role.REGISTERED_AGENT})
"""A notifier's users and the registered agents acting for it; each grant names one notifier."""
SELLER_ROLES = frozenset({Role.SELLER_USER})
"""A seller's users; each grant names one seller."""

ROLES_OF_KIND: dict[ActorKind, frozenset[Role]] = {
    ActorKind.AGENT: STAFF_ROLES,
    ActorKind.NOTIFIER_USER: NOTIFIER_ROLES,
    ActorKind.SELLER: SELLER_ROLES,
}
"""The roles a principal of each kind may hold; `system` holds none: it acts for the policies
and the deadlines only, and no one can grant it anything."""


class SellerKey(Frozen):
    """A seller as the marketplace names it."""

    marketplace: str = Field(min_length=1, max_length=100)
    seller_ref: str = Field(min_length=1, max_length=200)

    def __str__(self) -> str:
        return f"{self.marketplace}/{self.seller_ref}"

    @classmethod
    def parse(cls, text: str) -> SellerKey:
        """Read `MARKETPLACE/SELLER_ID`, e.g. `shop.example/S-1`."""
        marketplace, sep, seller_ref = text.partition("/")
        if not sep or not marketplace or not seller_ref:
            raise ValueError(f"seller {text!r} must look like MARKETPLACE/SELLER_ID")
        return cls(
            marketplace=identifier(marketplace, "marketplace"),
            seller_ref=identifier(seller_ref, "seller id"),
        )


class Grant(Frozen):
    """One role, scoped to one notifier or one seller where the role is a party's."""

    role: Role
    notifier_id: UUID | None = None
    seller: SellerKey | None = None

    def __str__(self) -> str:
        if self.notifier_id is not None:
            return f"{self.role.value} for notifier {self.notifier_id}"
        if self.seller is not None:
            return f"{self.role.value} for seller {self.seller}"
        return self.role.value


class Period(Frozen):
    """When a grant was held: from its grant to its revocation (None: still held)."""

    grant: Grant
    granted_at: AwareDatetime
    revoked_at: AwareDatetime | None = None

    def covers(self, at: datetime) -> bool:
        return self.granted_at <= at and (self.revoked_at is None or at < self.revoked_at)


class AccessError(DomainError):
    """A grant or revocation the principal's state or kind does not allow."""


class AccessAlreadyDone(AccessError, AlreadyDone):
    """The principal already holds (or no longer holds) the grant."""


class Principal(EventSourced):
    """Someone who acts in ntd, known from its first grant."""

    def __init__(self, kind: ActorKind, ident: str) -> None:
        self.kind = kind
        self.ident = ident
        self.grants: dict[Grant, datetime] = {}
        """The grants held now, with when each was granted."""
        self.periods: list[Period] = []
        """Every grant ever held, oldest first, revoked ones included."""

    class Enrolled(EventSourced.Created):
        kind: ActorKind
        ident: str = Field(min_length=1, max_length=200)

    class RoleGranted(EventSourced.Event):
        grant: Grant

        def apply(self, principal: Principal) -> None:
            principal.grants[self.grant] = self.timestamp
            principal.periods.append(Period(grant=self.grant, granted_at=self.timestamp))

    class RoleRevoked(EventSourced.Event):
        grant: Grant
        reason: str = Field(min_length=1, max_length=2000)

        def apply(self, principal: Principal) -> None:
            del principal.grants[self.grant]
            for index, period in enumerate(principal.periods):
                if period.grant == self.grant and period.revoked_at is None:
                    principal.periods[index] = period.model_copy(
                        update={"revoked_at": self.timestamp}
                    )

    @staticmethod
    def id_for(actor: Actor) -> UUID:
        """A principal is named by its kind and id."""
        return stable_id("principal", actor.kind.value, actor.id)

    @classmethod
    def enrol(cls, who: Actor, by: Actor, at: datetime) -> Principal:
        """Start the record of someone about to be granted a first role."""
        if who.kind not in ROLES_OF_KIND:
            raise AccessError(f"{who.principal} cannot be granted roles: it acts on its own")
        return cls.start(cls.Enrolled, cls.id_for(who), by, at, kind=who.kind, ident=who.id)

    @property
    def actor(self) -> Actor:
        """The principal as an actor (without a role)."""
        return Actor(kind=self.kind, id=self.ident)

    def grant(self, grant: Grant, by: Actor, at: datetime) -> None:
        """Give the principal a role, scoped as its kind requires."""
        check_fits(self.actor, grant)
        if grant in self.grants:
            raise AccessAlreadyDone(f"{self.actor} already holds {grant}")
        self.record(self.RoleGranted, by, at, grant=grant)

    def revoke(self, grant: Grant, reason: str, by: Actor, at: datetime) -> None:
        """Take a role back; what was done under it stays done and says so."""
        if grant not in self.grants:
            raise AccessAlreadyDone(f"{self.actor} does not hold {grant}")
        self.record(self.RoleRevoked, by, at, grant=grant, reason=reason)

    def held_at(self, at: datetime) -> list[Grant]:
        """The grants the principal held at a moment: a revocation counts from its own time."""
        return [period.grant for period in self.periods if period.covers(at)]


def check_fits(who: Actor, grant: Grant) -> None:
    """A role must suit the principal's kind, and a party's role must name its party."""
    allowed = ROLES_OF_KIND.get(who.kind, frozenset())
    if grant.role not in allowed:
        names = ", ".join(sorted(r.value for r in allowed)) or "none"
        raise AccessError(
            f"{who.principal} cannot hold the role {grant.role.value}: a {who.kind.value} "
            f"may hold {names}"
        )
    if grant.role in NOTIFIER_ROLES and (grant.notifier_id is None or grant.seller is not None):
        raise AccessError(f"the role {grant.role.value} must name one notifier (--notifier)")
    if grant.role in SELLER_ROLES and (grant.seller is None or grant.notifier_id is not None):
        raise AccessError(f"the role {grant.role.value} must name one seller (--seller)")
    if grant.role in STAFF_ROLES and (grant.notifier_id is not None or grant.seller is not None):
        raise AccessError(
            f"the role {grant.role.value} is the platform's and reaches every party: "
            "it takes no --notifier or --seller"
        )


class AccessSetUp(EventSourced):
    """A store's access: named once, with its first admin (there is one per store, so only one
    console can ever name it: a second save of this aggregate fails), then the admins it has.
    Every change of an admin role is saved with it, so two revocations at once cannot both
    win, and the last admin cannot go: a store without one could never grant a role again."""

    class FirstAdminNamed(EventSourced.Created):
        admin: Actor

    class AdminAdded(EventSourced.Event):
        admin: Actor

        def apply(self, setup: AccessSetUp) -> None:
            setup.admins.add(str(self.admin))

    class AdminRemoved(EventSourced.Event):
        admin: Actor

        def apply(self, setup: AccessSetUp) -> None:
            setup.admins.discard(str(self.admin))

    def __init__(self, admin: Actor) -> None:
        self.admin = admin
        self.admins: set[str] = {str(admin)}

    ID = stable_id("access", "first-admin")

    @classmethod
    def name_first_admin(cls, admin: Actor, at: datetime) -> AccessSetUp:
        return cls.start(cls.FirstAdminNamed, cls.ID, admin, at, admin=admin)

    def add_admin(self, admin: Actor, by: Actor, at: datetime) -> None:
        self.record(self.AdminAdded, by, at, admin=admin.principal)

    def remove_admin(self, admin: Actor, by: Actor, at: datetime) -> None:
        """Refuses to remove the last admin."""
        if self.admins <= {str(admin.principal)}:
            raise AccessError(
                f"{admin.principal} is the last admin: grant admin to someone else first"
            )
        self.record(self.AdminRemoved, by, at, admin=admin.principal)
