"""Who may do what: the one permission table (command × role × scope) and the one check.

Every public command and query of the application service has a row here, named after its
method (a test fails when one is missing). The service asks `allowed` twice: before reading
anything, whether the principal holds any role the command allows at all (if not, the command
is refused, whatever it names); once it has read what the command acts on, which of those roles
reach it. A party's role reaches only its own notifier or seller, and another party's case,
notifier or seller is not found, never merely forbidden: refusing would confirm it exists.
docs/domain.md shows the table (scripts/docs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from domain.access import Grant, SellerKey
from domain.values import Actor, ActorKind, DomainError, NotFound, Role


class Scope(StrEnum):
    ANY = "any"
    OWN_NOTIFIER = "own notifier"
    OWN_SELLER = "own seller"


@dataclass(frozen=True, slots=True)
class Permission:
    """One row: what the command does (for the refusal's wording) and the roles it allows."""

    does: str
    roles: Mapping[Role, Scope]


@dataclass(frozen=True, slots=True)
class Target:
    """What a command acts on, as far as scopes go: its name (for not-found) and its parties."""

    name: str
    notifier_id: UUID | None = None
    seller: SellerKey | None = None


R, S = Role, Scope
DECIDERS = {R.AGENT: S.ANY, R.ACCOUNT_MANAGER: S.ANY, R.SUPERVISOR: S.ANY}
"""The platform's people who decide cases (an account manager has agent powers)."""
NOTIFIER_SIDE = {
    R.NOTIFIER_ADMIN: S.OWN_NOTIFIER,
    R.REPORTER: S.OWN_NOTIFIER,
    R.REGISTERED_AGENT: S.OWN_NOTIFIER,
}
"""A notifier's users and the registered agents it appointed, each for its own notifier."""
SELLER_SIDE = {R.SELLER_USER: S.OWN_SELLER}
READERS = {**DECIDERS, R.AUDITOR: S.ANY, R.ADMIN: S.ANY, R.SYSTEM: S.ANY}
"""Who reads every party's records: the staff, auditors and the system."""
POLICY = {R.SUPERVISOR: S.ANY, R.SYSTEM: S.ANY}

"""Standing decisions: the policies take them on the figures, a supervisor by judgement."""


def _row(does: str, *groups: Mapping[Role, Scope]) -> Permission:
    roles: dict[Role, Scope] = {}
    for group in groups:
        roles |= group
    return Permission(does, roles)


PERMISSIONS: dict[str, Permission] = {
    # access
    # no role: only the console of an empty store names its first admin (AccessSetUp, once)
    "name_first_admin": _row("name the first admin"),
    "grant_staff_role": _row("grant or revoke staff roles", {R.ADMIN: S.ANY}),
    "grant_notifier_role": _row(
        "grant or revoke a notifier's roles", {R.ADMIN: S.ANY, R.NOTIFIER_ADMIN: S.OWN_NOTIFIER}
    ),
    "grant_seller_role": _row("grant or revoke a seller's roles", {R.ADMIN: S.ANY}),
    "principal": _row("read who holds which roles", {R.ADMIN: S.ANY, R.AUDITOR: S.ANY}),
    "principals": _row("read who holds which roles", {R.ADMIN: S.ANY, R.AUDITOR: S.ANY}),
    # every role holder, about itself (no target: a party's scope does not narrow it)
    "own_grants": _row("read their own roles", READERS, NOTIFIER_SIDE, SELLER_SIDE),
    # bearer tokens (the HTTP API and the portal)
    # no role: a request presents a token before anyone is known (checked, not allowed)
    "authenticate": _row("present a token"),
    "session_principal": _row("resume a portal session"),
    "end_sessions": _row("log out of the portal"),
    "issue_token": _row("issue tokens", {R.ADMIN: S.ANY}),
    "revoke_token": _row("revoke tokens", {R.ADMIN: S.ANY}),
    "tokens": _row("list tokens", {R.ADMIN: S.ANY, R.AUDITOR: S.ANY}),
    # evidence
    "override_broken_chain": _row("override a broken event store chain", {R.ADMIN: S.ANY}),
    # notifiers
    "register_notifier": _row("register notifiers", DECIDERS, {R.ADMIN: S.ANY}),
    "register_right": _row("register rights", DECIDERS, NOTIFIER_SIDE),
    "verify_right": _row("verify rights", {R.SUPERVISOR: S.ANY}),
    "reject_right": _row("reject rights", {R.SUPERVISOR: S.ANY}),
    "admit_to_trusted_lane": _row(
        "admit notifiers to the trusted lane on their figures", {R.SYSTEM: S.ANY}
    ),
    "admit_manually": _row("admit notifiers to the trusted lane", {R.SUPERVISOR: S.ANY}),
    "remove_from_trusted_lane": _row("remove notifiers from the trusted lane", POLICY),
    "warn_notifier": _row("warn notifiers", POLICY),
    "suspend_notifier": _row("suspend notifiers", POLICY),
    "assign_manager": _row("assign account managers", {R.SUPERVISOR: S.ANY}),
    "notifier": _row("read notifiers", READERS, NOTIFIER_SIDE),
    # filing and deciding
    "file_notice": _row("file notices", NOTIFIER_SIDE),
    "request_clarification": _row("request clarifications", DECIDERS),
    "provide_clarification": _row("answer clarification requests", NOTIFIER_SIDE),
    "take_down": _row("take down cases", DECIDERS),
    "decline": _row("decline cases", DECIDERS),
    "confirm_takedown": _row("confirm takedowns", DECIDERS),
    "reverse_takedown": _row("reverse takedowns", DECIDERS),
    "counter_notice": _row("file counter-notices", SELLER_SIDE),
    "forward_to_notifier": _row("forward counter-notices", DECIDERS),
    "report_litigation": _row("report litigation", NOTIFIER_SIDE, DECIDERS),
    "uphold_appeal": _row("uphold appeals", DECIDERS),
    "reject_appeal": _row("reject appeals", DECIDERS),
    "withdraw": _row("withdraw notices", NOTIFIER_SIDE),
    "close_case": _row("close cases", DECIDERS),
    "miss_deadline": _row("record missed deadlines", {R.SYSTEM: S.ANY}),
    # Joint-Force collaboration: identification and the case's conversation
    "request_identification": _row("request identifications", DECIDERS),
    "answer_identification": _row("answer identification requests", NOTIFIER_SIDE),
    "post_message": _row("post messages on cases", DECIDERS, NOTIFIER_SIDE),
    "case": _row("read cases", READERS, NOTIFIER_SIDE, SELLER_SIDE),
    "case_as_of": _row("read cases", READERS, NOTIFIER_SIDE, SELLER_SIDE),
    "case_events": _row("read cases", READERS, NOTIFIER_SIDE, SELLER_SIDE),
    # sellers
    "record_strike": _row("record strikes", {R.SYSTEM: S.ANY}),
    "remove_strike": _row("remove strikes", {R.SYSTEM: S.ANY}),
    "suspend_seller": _row("suspend sellers", POLICY),
    "lift_seller_suspension": _row("lift seller suspensions", POLICY),
    "seller": _row("read sellers", READERS, SELLER_SIDE),
    # the read models (the entry points ask before they query)
    "read_cases": _row("list cases", READERS, NOTIFIER_SIDE, SELLER_SIDE),
    "read_dashboard": _row("read dashboards", READERS, NOTIFIER_SIDE),
    "read_conversations": _row("read case conversations (never a seller)", READERS, NOTIFIER_SIDE),
    "read_audit": _row(
        "read the audit trail", {R.AUDITOR: S.ANY, R.ADMIN: S.ANY, R.SUPERVISOR: S.ANY}
    ),
    "read_events": _row("read the event stream", {R.AUDITOR: S.ANY, R.ADMIN: S.ANY}),
    "read_transparency": _row(
        "export statements of reasons and the public archive", {R.AUDITOR: S.ANY, R.ADMIN: S.ANY}
    ),
    "read_policy_what_if": _row(
        "replay the policies under other rules",
        {R.SUPERVISOR: S.ANY, R.ADMIN: S.ANY, R.AUDITOR: S.ANY},
    ),
    "operate": _row("operate ntd (rebuilds, relays, consumers)", {R.ADMIN: S.ANY, R.SYSTEM: S.ANY}),
}
"""Every command and query of the application service, by method name; granting and revoking
a role go by the role's row in ROW_OF_GRANT."""

ROW_OF_GRANT = {
    "staff": "grant_staff_role",
    "notifier": "grant_notifier_role",
    "seller": "grant_seller_role",
}
"""Who may grant (or revoke) a role depends on whose role it is: the platform's, a notifier's
or a seller's. `grant_role` and `revoke_role` use these rows."""


class Forbidden(DomainError):
    """The principal holds no role that allows the command; nothing was read or changed."""


def allowed(
    command: str, actor: Actor, held: Iterable[Grant], target: Target | None = None
) -> Role:
    """The role under which `actor` may give `command` to `target` (None: before the target is
    read, any role the command allows will do). Raises Forbidden, or NotFound when the
    principal's roles reach only other parties than the target's."""
    permission = PERMISSIONS[command]
    if actor.kind is ActorKind.SYSTEM:
        if Role.SYSTEM in permission.roles:
            return Role.SYSTEM
        raise Forbidden(_refusal(actor, permission, "the system acts for policies and deadlines"))
    grants = [g for g in held if g.role in permission.roles]
    if not grants:
        holds = ", ".join(sorted({str(g) for g in held})) or "no role"
        raise Forbidden(_refusal(actor, permission, f"{actor.principal} holds {holds}"))
    if target is None:
        return grants[0].role
    for grant in sorted(grants, key=lambda g: permission.roles[g.role] is not Scope.ANY):
        if reaches(permission.roles[grant.role], grant, target):
            return grant.role
    if target.notifier_id is None and target.seller is None:
        raise Forbidden(_refusal(actor, permission, f"{target.name} belongs to no party of yours"))
    raise NotFound(f"no {target.name}")


def reaches(scope: Scope, grant: Grant, target: Target) -> bool:
    """Whether a grant of this scope reaches the target's parties."""
    if scope is Scope.ANY:
        return True
    if scope is Scope.OWN_NOTIFIER:
        return grant.notifier_id is not None and grant.notifier_id == target.notifier_id
    return grant.seller is not None and grant.seller == target.seller


def _refusal(actor: Actor, permission: Permission, why: str) -> str:
    roles = ", ".join(r.value for r in permission.roles if r is not Role.SYSTEM) or "the system"
    return f"{actor.principal} may not {permission.does} (allowed: {roles}; {why})"
