"""Commands and queries on who may do what: the first admin, grants and revocations, and the
read-model checks the entry points ask for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from domain.access import (
    AccessAlreadyDone,
    AccessError,
    AccessSetUp,
    Grant,
    Principal,
    SellerKey,
    check_fits,
)
from domain.permissions import PERMISSIONS, Scope, Target, allowed
from domain.service import Service
from domain.values import (
    Actor,
    ActorKind,
    NotFound,
    Role,
)


class AccessService(Service):
    """Who may do what."""

    # -- access --------------------------------------------------------------------------------

    def name_first_admin(self, admin: Actor) -> None:
        """Make `admin` the store's first admin: once per store, from the local console (no one
        holds a role yet to allow it); afterwards only admins grant staff roles."""
        if admin.kind is not ActorKind.AGENT:
            raise AccessError(
                f"the first admin is one of the platform's staff (agent:ID), not {admin}"
            )
        now = self.clock.now()
        by = admin.principal.acting_as(Role.ADMIN)
        principal = self._find(Principal, Principal.id_for(admin)) or Principal.enrol(
            admin, by, now
        )
        principal.grant(Grant(role=Role.ADMIN), by, now)
        try:
            self.save(AccessSetUp.name_first_admin(admin.principal, now), principal)
        except IntegrityError:
            raise AccessError(
                "ntd already has its first admin: admins grant roles (ntd access grant)"
            ) from None

    def grant_role(self, who: Actor, grant: Grant, actor: Actor) -> None:
        """Give `who` a role: staff roles by an admin, a notifier's roles by an admin or that
        notifier's admin, a seller's by an admin."""
        self.grant_roles(who, [grant], actor)

    def grant_roles(self, who: Actor, grants: Sequence[Grant], actor: Actor) -> None:
        """Give `who` several roles at once: all are checked before any is saved, and all are
        saved together, so a refusal changes nothing."""
        by = self._access_changes(grants, actor)
        for grant in grants:
            check_fits(who, grant)

        def change(principal: Principal, setup: AccessSetUp | None, now: datetime) -> None:
            for grant in grants:
                principal.grant(grant, by, now)
                if grant.role is Role.ADMIN and setup is not None:
                    setup.add_admin(who, by, now)

        self._change_principal(who, by, change, admins=any(g.role is Role.ADMIN for g in grants))

    def revoke_role(self, who: Actor, grant: Grant, reason: str, actor: Actor) -> None:
        """Take a role back, as those who may grant it; it no longer allows anything from now."""
        self.revoke_roles(who, [grant], reason, actor)

    def revoke_roles(self, who: Actor, grants: Sequence[Grant], reason: str, actor: Actor) -> None:
        """Take several roles back at once, all or none. The last admin cannot lose its role."""
        by = self._access_changes(grants, actor)
        if self._find(Principal, Principal.id_for(who)) is None:
            raise AccessAlreadyDone(f"{who.principal} does not hold {grants[0]}")

        def change(principal: Principal, setup: AccessSetUp | None, now: datetime) -> None:
            for grant in grants:
                principal.revoke(grant, reason, by, now)
                if grant.role is Role.ADMIN and setup is not None:
                    setup.remove_admin(who, by, now)

        self._change_principal(who, by, change, admins=any(g.role is Role.ADMIN for g in grants))

    def _access_changes(self, grants: Sequence[Grant], actor: Actor) -> Actor:
        """The actor stamped with its role, once it may grant (and revoke) every one of them."""
        if not grants:
            raise AccessError("name at least one role to grant or revoke")
        stamped = [self._access_change(grant, actor) for grant in grants]
        return max(stamped, key=lambda by: by.role is Role.ADMIN)

    def principal(self, who: Actor, viewer: Actor, as_of: datetime | None = None) -> Principal:
        """Someone's grants now, or as they stood at a moment (what they were allowed then)."""
        self._authorize("principal", viewer, Target("the platform's access"))
        principal = self._find(Principal, Principal.id_for(who))
        if principal is None:
            raise NotFound(f"{who.principal} holds no role")
        if as_of is not None:
            events: list[Any] = list(self.events.get(principal.id))
            version = max((e.originator_version for e in events if e.timestamp <= as_of), default=0)
            if version == 0:
                raise NotFound(f"{who.principal} held no role yet at {as_of.isoformat()}")
            principal = self._get(Principal, principal.id, version)
        return principal

    def principals(self, viewer: Actor) -> list[Principal]:
        """Everyone who was ever granted a role, in the order they were first granted one."""
        self._authorize("principals", viewer, Target("the platform's access"))
        topic = get_topic(Principal.Enrolled)
        ids: list[UUID] = []
        start: int | None = None
        while True:
            page = self.recorder.select_notifications(
                start, 1000, topics=[topic], inclusive_of_start=start is None
            )
            ids += [UUID(str(n.originator_id)) for n in page]
            if len(page) < 1000:
                break
            start = page[-1].id
        return [self._get(Principal, i) for i in ids]

    def may_read(
        self,
        what: str,
        viewer: Actor,
        notifier_id: UUID | None = None,
        seller: SellerKey | None = None,
    ) -> Role:
        """Whether `viewer` may read a read model (`read_*` rows of the table), for one
        party's records when one is named; the role it reads under, else Forbidden/NotFound."""
        if not what.startswith("read_") and what != "operate":
            raise ValueError(f"{what} is not a read of the permission table")
        if notifier_id is None and seller is None:
            return self._authorize(what, viewer, Target("all parties' records")).role or Role.SYSTEM
        name = f"notifier {notifier_id}" if notifier_id is not None else f"seller {seller}"
        target = Target(name, notifier_id=notifier_id, seller=seller)
        return self._authorize(what, viewer, target).role or Role.SYSTEM

    def notifiers_in_reach(self, what: str, viewer: Actor) -> frozenset[UUID] | None:
        """The notifiers whose records `viewer` may read for `what` (a `read_*` row): None when
        its roles reach every notifier. Refused (Forbidden) when no role allows `what` at all,
        so an entry point can ask before it looks anything up by name."""
        if not what.startswith("read_"):
            raise ValueError(f"{what} is not a read of the permission table")
        held = self._held(viewer)
        allowed(what, viewer, held)
        row = PERMISSIONS[what]
        if viewer.kind is ActorKind.SYSTEM or any(row.roles.get(g.role) is Scope.ANY for g in held):
            return None
        return frozenset(g.notifier_id for g in held if g.role in row.roles and g.notifier_id)
