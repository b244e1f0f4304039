"""Who may do what: the permission table covers every command, refusals change nothing, scopes
hide other parties' records, and grants replay with their times."""

from __future__ import annotations

import inspect
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.access import AccessError, Grant, Principal, SellerKey
from domain.application import NtdApplication
from domain.case import Case, State
from domain.lifecycle import Deadline
from domain.notice import NoticeRefused, parse_notice
from domain.notifier import NotifierKind
from domain.permissions import PERMISSIONS, ROW_OF_GRANT, Forbidden, Scope
from domain.seller import Seller
from domain.values import (
    SYSTEM,
    Actor,
    ActorKind,
    DomainError,
    NotFound,
    RightType,
    Role,
)
from projections.embedded import catch_up
from projections.memory import MemoryReadStore
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    AUDITOR,
    BRAND_USER,
    CERTIFICATE,
    SELLER,
    FakeClock,
    grant_reporter,
    listing_data,
    log_size,
    make_app,
    notice_data,
    reasons,
    register_brand,
)

pytestmark = pytest.mark.fast

STRANGER_SELLER = Actor(kind=ActorKind.SELLER, id="s5")
LAW_FIRM = Actor(kind=ActorKind.NOTIFIER_USER, id="k.law")


def public_commands() -> list[str]:
    """The application service's own public methods: its commands and queries."""
    return [
        name
        for name in dir(NtdApplication)
        if inspect.isfunction(getattr(NtdApplication, name))
        and not name.startswith("_")
        and not hasattr(Application, name)
    ]


def test_every_public_command_of_the_application_service_has_a_row_in_the_table() -> None:
    dispatched = {  # their row depends on their input
        "grant_role",
        "grant_roles",
        "revoke_role",
        "revoke_roles",
        "may_read",
        "notifiers_in_reach",
    }
    missing = [n for n in public_commands() if n not in PERMISSIONS and n not in dispatched]
    assert missing == []
    assert len(public_commands()) > 30


def test_every_row_names_a_command_or_a_read_of_the_read_models() -> None:
    commands = set(public_commands())
    for name in PERMISSIONS:
        chosen = name in ROW_OF_GRANT.values() or name.startswith("read_") or name == "operate"
        assert name in commands or chosen, name


def test_a_partys_role_reaches_only_its_own_party_and_staff_reach_every_party() -> None:
    for name, row in PERMISSIONS.items():
        for role, scope in row.roles.items():
            if role in (Role.NOTIFIER_ADMIN, Role.REPORTER, Role.REGISTERED_AGENT):
                assert scope is Scope.OWN_NOTIFIER, name
            elif role is Role.SELLER_USER:
                assert scope is Scope.OWN_SELLER, name
            else:
                assert scope is Scope.ANY, name


READS = {
    "case",
    "case_as_of",
    "case_events",
    "notifier",
    "seller",
    "principal",
    "principals",
    "own_grants",
    "tokens",
}
SYSTEM_ACTS = {
    "admit_to_trusted_lane",
    "remove_from_trusted_lane",
    "warn_notifier",
    "suspend_notifier",
    "record_strike",
    "remove_strike",
    "suspend_seller",
    "lift_seller_suspension",
    "miss_deadline",
}
"""What the policies and the deadlines do; the system gives no other command."""


def test_an_auditor_changes_nothing_and_the_system_acts_only_for_policies_and_deadlines() -> None:
    for name, row in PERMISSIONS.items():
        reading = name in READS or name.startswith("read_")
        if Role.AUDITOR in row.roles:
            assert reading, name
        if Role.SYSTEM in row.roles:
            assert reading or name in SYSTEM_ACTS or name == "operate", name


# -- the refusals the issue names ----------------------------------------------------------------


@pytest.fixture
def world() -> dict[str, Any]:
    clock = FakeClock()
    app = make_app(clock)
    notifier_id, right_id = register_brand(app)
    receipt = app.file_notice(parse_notice(notice_data(notifier_id, right_id)), BRAND_USER)
    return {
        "app": app,
        "clock": clock,
        "notifier": notifier_id,
        "right": right_id,
        "case": receipt.cases[0].case_id,
    }


def test_a_seller_may_not_take_down_a_case_and_nothing_changes(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    before = log_size(app)
    with pytest.raises(Forbidden) as refused:
        app.take_down(world["case"], reasons(), SELLER)
    assert str(refused.value).startswith(
        "seller:seller-1 may not take down cases (allowed: agent, account_manager, supervisor;"
    )
    assert log_size(app) == before
    assert app.case(world["case"], AGENT).state is State.FILED


def test_a_brand_may_not_verify_its_own_right(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    right = app.register_right(
        world["notifier"], RightType.DESIGN, "D-1", "EU", CERTIFICATE, BRAND_USER
    )
    before = log_size(app)
    with pytest.raises(Forbidden, match="notifier_user:bob may not verify rights"):
        app.verify_right(world["notifier"], right, BRAND_USER)
    assert log_size(app) == before


def test_a_stranger_may_do_nothing_even_name_a_case_that_does_not_exist() -> None:
    app = make_app()
    nobody = Actor(kind=ActorKind.AGENT, id="bob")
    with pytest.raises(Forbidden, match="agent:bob may not take down cases .*holds no role"):
        app.take_down(UUID(int=7), reasons(), nobody)


def test_an_agent_or_another_seller_may_not_counter_notice(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    app.take_down(world["case"], reasons(), AGENT)
    app.grant_role(
        STRANGER_SELLER,
        Grant(role=Role.SELLER_USER, seller=SellerKey(marketplace="shop.example", seller_ref="s5")),
        ADMIN,
    )
    before = log_size(app)
    with pytest.raises(Forbidden, match="agent:alice may not file counter-notices"):
        app.counter_notice(world["case"], "Genuine goods.", True, AGENT)
    with pytest.raises(NotFound, match=f"^no case {world['case']}$"):
        app.counter_notice(world["case"], "Genuine goods.", True, STRANGER_SELLER)
    assert log_size(app) == before
    app.counter_notice(world["case"], "Genuine goods.", True, SELLER)


def test_another_partys_case_is_not_found_exactly_as_a_missing_one(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    other_id, _ = register_brand(app, "Other")
    other_user = Actor(kind=ActorKind.NOTIFIER_USER, id="olga")
    grant_reporter(app, other_id, other_user)
    with pytest.raises(NotFound) as hidden:
        app.case(world["case"], other_user)
    with pytest.raises(NotFound) as missing:
        app.case(UUID(int=99), other_user)
    assert str(hidden.value) == f"no case {world['case']}"
    assert str(missing.value) == f"no case {UUID(int=99)}"
    with pytest.raises(NotFound):
        app.withdraw(world["case"], "Not ours.", other_user)
    with pytest.raises(NotFound):
        app.case_events(world["case"], other_user)


def test_a_seller_may_not_withdraw_and_may_not_warn_a_notifier(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    with pytest.raises(Forbidden, match="may not withdraw notices"):
        app.withdraw(world["case"], "Whatever.", SELLER)
    with pytest.raises(Forbidden, match="may not warn notifiers"):
        app.warn_notifier(world["notifier"], "Unfounded.", 0.4, SELLER)


def test_trusted_lane_figures_come_only_from_the_system(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    with pytest.raises(Forbidden, match="may not admit notifiers to the trusted lane on their"):
        app.admit_to_trusted_lane(world["notifier"], 0.95, 0.01, 40, AGENT)
    assert not app.notifier(world["notifier"], AGENT).in_trusted_lane


def test_each_decision_records_the_role_it_was_made_under(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    manager = Actor(kind=ActorKind.AGENT, id="amy")
    app.grant_role(manager, Grant(role=Role.ACCOUNT_MANAGER), ADMIN)
    app.take_down(world["case"], reasons(), manager)
    events = app.case_events(world["case"], AUDITOR)
    filed, taken = events[0], next(e for e in events if isinstance(e, Case.TakenDown))
    assert filed.actor == BRAND_USER.acting_as(Role.REPORTER)
    assert taken.actor == manager.acting_as(Role.ACCOUNT_MANAGER)
    assert events[-1].actor == SYSTEM  # the seller was notified by ntd itself


def test_an_event_stored_before_roles_keeps_its_bytes() -> None:
    plain = Actor(kind=ActorKind.AGENT, id="alice")
    assert plain.model_dump_json() == '{"kind":"agent","id":"alice"}'
    assert Actor.model_validate_json('{"kind":"agent","id":"alice"}').role is None


# -- access: the first admin, who grants what ----------------------------------------------------


def test_the_first_admin_is_named_once_per_store() -> None:
    app = make_app(cast=False)
    app.name_first_admin(ADMIN)
    with pytest.raises(AccessError, match="already has its first admin"):
        app.name_first_admin(Actor(kind=ActorKind.AGENT, id="mallory"))
    assert app.principal(ADMIN, ADMIN).grants.keys() == {Grant(role=Role.ADMIN)}


def test_only_admins_grant_staff_roles() -> None:
    app = make_app()
    with pytest.raises(Forbidden, match="agent:alice may not grant or revoke staff roles"):
        app.grant_role(Actor(kind=ActorKind.AGENT, id="eve"), Grant(role=Role.ADMIN), AGENT)


def test_a_role_must_suit_the_principal_and_name_its_party() -> None:
    app = make_app()
    with pytest.raises(AccessError, match="cannot hold the role agent"):
        app.grant_role(SELLER, Grant(role=Role.AGENT), ADMIN)
    with pytest.raises(AccessError, match="must name one notifier"):
        app.grant_role(BRAND_USER, Grant(role=Role.REPORTER), ADMIN)
    with pytest.raises(AccessError, match="system:ntd cannot hold the role agent"):
        app.grant_role(SYSTEM, Grant(role=Role.AGENT), ADMIN)


def test_a_notifier_admin_manages_its_own_users_only() -> None:
    app = make_app()
    a, _ = register_brand(app, "A")
    b, _ = register_brand(app, "B")
    boss = Actor(kind=ActorKind.NOTIFIER_USER, id="boss-a")
    app.grant_role(boss, Grant(role=Role.NOTIFIER_ADMIN, notifier_id=a), ADMIN)
    app.grant_role(LAW_FIRM, Grant(role=Role.REPORTER, notifier_id=a), boss)
    with pytest.raises(NotFound, match=f"no notifier {b}"):
        app.grant_role(LAW_FIRM, Grant(role=Role.REPORTER, notifier_id=b), boss)
    with pytest.raises(Forbidden):
        app.grant_role(LAW_FIRM, Grant(role=Role.AGENT), boss)


# -- a registered agent acting for several notifiers -------------------------------------------


def test_a_registered_agent_acts_for_the_notifiers_that_appointed_it_until_one_revokes() -> None:
    clock = FakeClock()
    app = make_app(clock)
    brands = {name: register_brand(app, name) for name in ("A", "B", "C")}
    admins = {}
    for name, (notifier_id, _) in brands.items():
        admins[name] = Actor(kind=ActorKind.NOTIFIER_USER, id=f"admin-{name}")
        app.grant_role(
            admins[name], Grant(role=Role.NOTIFIER_ADMIN, notifier_id=notifier_id), ADMIN
        )
    for name in ("A", "B"):
        grant = Grant(role=Role.REGISTERED_AGENT, notifier_id=brands[name][0])
        app.grant_role(LAW_FIRM, grant, admins[name])

    def file(name: str, listing: str) -> UUID:
        notifier_id, right_id = brands[name]
        data = notice_data(notifier_id, right_id, [listing_data(listing)], submitted_by=LAW_FIRM.id)
        return app.file_notice(parse_notice(data), LAW_FIRM).cases[0].case_id

    clock.advance(hours=1)
    case_a, case_b = file("A", "LA-1"), file("B", "LB-1")
    app.withdraw(case_b, "Settled.", LAW_FIRM)
    with pytest.raises(NoticeRefused, match=f"notifier_id: no notifier {brands['C'][0]}"):
        file("C", "LC-1")
    before_revocation = clock.advance(hours=1)
    clock.advance(hours=1)
    app.revoke_role(
        LAW_FIRM,
        Grant(role=Role.REGISTERED_AGENT, notifier_id=brands["A"][0]),
        "Mandate ended.",
        admins["A"],
    )
    clock.advance(hours=1)
    with pytest.raises(NoticeRefused):
        file("A", "LA-2")
    with pytest.raises(NotFound):
        app.withdraw(case_a, "Too late.", LAW_FIRM)
    file("B", "LB-2")  # B's appointment stands
    # replay: what it held just before the revocation, and what its filing recorded
    then = app.principal(LAW_FIRM, AUDITOR, as_of=before_revocation)
    assert Grant(role=Role.REGISTERED_AGENT, notifier_id=brands["A"][0]) in then.grants
    now = app.principal(LAW_FIRM, AUDITOR)
    assert Grant(role=Role.REGISTERED_AGENT, notifier_id=brands["A"][0]) not in now.grants
    held = now.held_at(before_revocation)
    assert Grant(role=Role.REGISTERED_AGENT, notifier_id=brands["A"][0]) in held
    filed = app.case_events(case_a, AUDITOR)[0]
    assert filed.actor == LAW_FIRM.acting_as(Role.REGISTERED_AGENT)
    assert filed.timestamp < before_revocation


# -- refusals change nothing, whoever gives whatever --------------------------------------------

PRINCIPALS = [
    AGENT,
    AUDITOR,
    BRAND_USER,
    SELLER,
    STRANGER_SELLER,
    LAW_FIRM,
    Actor(kind=ActorKind.AGENT, id="nobody"),
    Actor(kind=ActorKind.NOTIFIER_USER, id="olga"),
]


def _commands(app: NtdApplication, ids: dict[str, UUID]) -> dict[str, Any]:
    case, notifier, right = ids["case"], ids["notifier"], ids["right"]
    return {
        "take_down": lambda a: app.take_down(case, reasons(), a),
        "decline": lambda a: app.decline(case, reasons(), a),
        "request_clarification": lambda a: app.request_clarification(case, "Which mark?", a),
        "withdraw": lambda a: app.withdraw(case, "Settled.", a),
        "counter_notice": lambda a: app.counter_notice(case, "Genuine.", True, a),
        "close_case": lambda a: app.close_case(case, "Done.", a),
        "verify_right": lambda a: app.verify_right(notifier, right, a),
        "reject_right": lambda a: app.reject_right(notifier, right, "No.", a),
        "warn_notifier": lambda a: app.warn_notifier(notifier, "Unfounded.", 0.5, a),
        "suspend_notifier": lambda a: app.suspend_notifier(notifier, "Unfounded.", 3, a),
        "remove_strike": lambda a: app.remove_strike(UUID(int=5), case, "x", a),
        "miss_deadline": lambda a: app.miss_deadline(case, next(iter(Deadline)), a),
        "grant_role": lambda a: app.grant_role(
            Actor(kind=ActorKind.AGENT, id="eve"), Grant(role=Role.ADMIN), a
        ),
        "register_notifier": lambda a: app.register_notifier(
            "Eve", NotifierKind.BRAND, "eve@example.org", a
        ),
        "file_notice": lambda a: app.file_notice(
            parse_notice(notice_data(notifier, right, [listing_data("L-new")], submitted_by=a.id)),
            a,
        ),
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_a_refused_command_changes_nothing_in_either_store(data: st.DataObject) -> None:
    clock = FakeClock()
    app = make_app(clock)
    notifier, right = register_brand(app)
    receipt = app.file_notice(parse_notice(notice_data(notifier, right)), BRAND_USER)
    ids = {"case": receipt.cases[0].case_id, "notifier": notifier, "right": right}
    commands = _commands(app, ids)
    store = MemoryReadStore()
    for _ in range(data.draw(st.integers(1, 6))):
        name = data.draw(st.sampled_from(sorted(commands)))
        who = data.draw(st.sampled_from(PRINCIPALS))
        before_log, before_read = log_size(app), read_digest(app, store)
        try:
            commands[name](who)
        except (Forbidden, NotFound) as refused:
            assert log_size(app) == before_log, (name, who, refused)
            assert read_digest(app, store) == before_read, (name, who)
        except DomainError:
            assert log_size(app) == before_log, (name, who)
        clock.advance(hours=1)


def read_digest(app: NtdApplication, store: MemoryReadStore) -> tuple[Any, ...]:
    """The read models after catching up with the log: position, trail length, every case row."""
    catch_up(app, store)
    cases = {k: v.model_dump_json() for k, v in store.cases.items()}
    return store.position(), len(store.audit_records), cases


# -- found by review: what a principal must not be able to do ----------------------------------


def test_the_last_admin_cannot_lose_the_role_and_a_second_one_can() -> None:
    app = make_app()
    with pytest.raises(AccessError, match="agent:root is the last admin"):
        app.revoke_role(ADMIN, Grant(role=Role.ADMIN), "Leaving.", ADMIN)
    assert Grant(role=Role.ADMIN) in app.principal(ADMIN, ADMIN).grants
    deputy = Actor(kind=ActorKind.AGENT, id="deputy")
    app.grant_role(deputy, Grant(role=Role.ADMIN), ADMIN)
    app.revoke_role(ADMIN, Grant(role=Role.ADMIN), "Leaving.", deputy)
    with pytest.raises(AccessError, match="agent:deputy is the last admin"):
        app.revoke_role(deputy, Grant(role=Role.ADMIN), "Leaving.", deputy)


def test_a_chosen_notifier_id_cannot_take_the_place_of_a_seller_or_a_principal() -> None:
    app = make_app()
    for taken in (Seller.id_for("shop.example", "seller-9"), Principal.id_for(LAW_FIRM)):
        with pytest.raises(DomainError, match="choose a random \\(version 4\\) one"):
            app.register_notifier("Squat", NotifierKind.BRAND, "a@b.example", AGENT, taken)
    chosen = UUID("1b4e28ba-2fa1-41d2-883f-0016d3cca427")
    assert app.register_notifier("Fine", NotifierKind.BRAND, "a@b.example", AGENT, chosen) == chosen


def test_a_version_beyond_the_last_tells_another_party_nothing(world: dict[str, Any]) -> None:
    app: NtdApplication = world["app"]
    other_id, _ = register_brand(app, "Other")
    other_user = Actor(kind=ActorKind.NOTIFIER_USER, id="olga")
    grant_reporter(app, other_id, other_user)
    with pytest.raises(NotFound) as hidden:
        app.case(world["case"], other_user, 99)
    assert str(hidden.value) == f"no case {world['case']}"


def test_several_grants_are_all_or_none() -> None:
    app = make_app()
    a, _ = register_brand(app, "A")
    b, _ = register_brand(app, "B")
    boss = Actor(kind=ActorKind.NOTIFIER_USER, id="boss-a")
    app.grant_role(boss, Grant(role=Role.NOTIFIER_ADMIN, notifier_id=a), ADMIN)
    before = log_size(app)
    grants = [Grant(role=Role.REPORTER, notifier_id=n) for n in (a, b)]
    with pytest.raises(NotFound):
        app.grant_roles(LAW_FIRM, grants, boss)
    assert log_size(app) == before


def test_revoking_from_a_stranger_says_what_revoking_an_absent_role_says() -> None:
    app = make_app()
    a, _ = register_brand(app, "A")
    grant = Grant(role=Role.REPORTER, notifier_id=a)
    with pytest.raises(AccessError) as stranger:
        app.revoke_role(Actor(kind=ActorKind.NOTIFIER_USER, id="nobody"), grant, "x", ADMIN)
    with pytest.raises(AccessError) as known:
        app.revoke_role(
            SELLER.model_copy(update={"kind": ActorKind.NOTIFIER_USER}), grant, "x", ADMIN
        )
    assert (
        str(stranger.value).split(" does not hold ")[1]
        == str(known.value).split(" does not hold ")[1]
    )


def test_a_party_reaches_only_its_own_notifiers_by_name() -> None:
    app = make_app()
    a, _ = register_brand(app, "A")
    register_brand(app, "B")
    only_a = Actor(kind=ActorKind.NOTIFIER_USER, id="anna")
    grant_reporter(app, a, only_a)
    assert app.notifiers_in_reach("read_dashboard", only_a) == frozenset({a})
    assert app.notifiers_in_reach("read_dashboard", AGENT) is None
    with pytest.raises(Forbidden):
        app.notifiers_in_reach("read_dashboard", STRANGER_SELLER)
