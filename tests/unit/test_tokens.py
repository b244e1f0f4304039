"""Bearer tokens (issue, authenticate, revoke, expire, list) and deciding on a stale version:
the application service's side of the portal, in memory."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from eventsourcing.utils import get_topic

from domain.case import State
from domain.catalog import internal_topics
from domain.notice import parse_notice
from domain.permissions import Forbidden
from domain.token import Token
from domain.values import Actor, ActorKind, StaleVersion, Unauthenticated
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    AUDITOR,
    BRAND_USER,
    SELLER,
    FakeClock,
    log_size,
    make_app,
    notice_data,
    reasons,
    register_brand,
)

pytestmark = pytest.mark.fast
BOB = Actor(kind=ActorKind.AGENT, id="bob")


def test_a_token_names_its_principal_until_it_is_revoked() -> None:
    app = make_app()
    issued = app.issue_token(AGENT, ADMIN, label="alice's laptop")
    assert issued.text.startswith("ntd_") and issued.principal == AGENT
    assert app.authenticate(issued.text) == AGENT
    app.revoke_token(issued.token_id, "laptop lost", ADMIN)
    with pytest.raises(Unauthenticated, match="^not a valid token$"):
        app.authenticate(issued.text)  # whoever holds a revoked token learns nothing of it


def test_a_token_expires() -> None:
    clock = FakeClock()
    app = make_app(clock)
    issued = app.issue_token(AGENT, ADMIN, expires_at=clock.now() + timedelta(days=1))
    assert app.authenticate(issued.text) == AGENT
    clock.advance(1)
    with pytest.raises(Unauthenticated, match="^not a valid token$"):
        app.authenticate(issued.text)


@pytest.mark.parametrize(
    "text",
    ["", "Bearer x", "ntd_", "ntd_zz_secret", "ntd_" + "0" * 32 + "_secret", "x" * 10_000],
)
def test_anything_but_a_live_token_is_unauthenticated_in_the_same_words(text: str) -> None:
    app = make_app()
    with pytest.raises(Unauthenticated, match="^not a valid token$"):
        app.authenticate(text)


def test_a_wrong_secret_for_a_real_token_id_is_refused() -> None:
    app = make_app()
    issued = app.issue_token(AGENT, ADMIN)
    forged = issued.text[:-4] + ("AAAA" if not issued.text.endswith("AAAA") else "BBBB")
    with pytest.raises(Unauthenticated, match="^not a valid token$"):
        app.authenticate(forged)


def test_only_the_digest_is_stored_and_tokens_are_never_published() -> None:
    app = make_app()
    issued = app.issue_token(AGENT, ADMIN)
    secret = issued.text.rsplit("_", 1)[1]
    stored = list(app.recorder.select_events(issued.token_id))
    assert stored and all(secret.encode() not in s.state for s in stored)
    assert get_topic(Token.Issued) in internal_topics()


def test_only_an_admin_issues_and_revokes_tokens_and_a_refusal_changes_nothing() -> None:
    app = make_app()
    issued = app.issue_token(BOB, ADMIN)
    before = log_size(app)
    for actor in (AGENT, AUDITOR, SELLER, BRAND_USER):
        with pytest.raises(Forbidden):
            app.issue_token(actor, actor)
        with pytest.raises(Forbidden):
            app.revoke_token(issued.token_id, "mine now", actor)
    assert log_size(app) == before
    listed = app.tokens(AUDITOR)
    assert [t.token_id for t in listed] == [issued.token_id]
    assert listed[0].principal == BOB and "text" not in listed[0].model_dump()


def test_a_token_never_outlives_the_roles_it_was_given_for() -> None:
    """A token authenticates; the grants are read by each command, so a revoked role is gone."""
    app = make_app()
    issued = app.issue_token(AUDITOR, ADMIN)
    who = app.authenticate(issued.text)
    assert app.own_grants(who)
    from domain.access import Grant
    from domain.values import Role

    app.revoke_role(AUDITOR, Grant(role=Role.AUDITOR), "left", ADMIN)
    with pytest.raises(Forbidden):
        app.own_grants(app.authenticate(issued.text))


def test_of_two_deciders_who_read_one_version_the_second_is_refused_and_nothing_changes() -> None:
    app = make_app()
    notifier_id, right_id = register_brand(app)
    receipt = app.file_notice(parse_notice(notice_data(notifier_id, right_id)), BRAND_USER)
    case_id = receipt.cases[0].case_id
    seen = app.case(case_id, AGENT).version
    app.take_down(case_id, reasons(), AGENT, expected_version=seen)
    before = log_size(app)
    with pytest.raises(StaleVersion, match=f"is at version {seen + 2}, not {seen}"):
        app.decline(case_id, reasons(), AGENT, expected_version=seen)
    assert log_size(app) == before
    assert app.case(case_id, AGENT).state is State.TAKEN_DOWN


def test_a_portal_session_ends_when_its_token_is_revoked_or_expires() -> None:
    clock = FakeClock()
    app = make_app(clock)
    issued = app.issue_token(AGENT, ADMIN, expires_at=clock.now() + timedelta(days=2))
    opened = clock.now()
    assert app.session_principal(issued.token_id, opened) == AGENT
    clock.advance(2)
    with pytest.raises(Unauthenticated):
        app.session_principal(issued.token_id, opened)
    other = app.issue_token(AGENT, ADMIN)
    app.revoke_token(other.token_id, "left", ADMIN)
    with pytest.raises(Unauthenticated):
        app.session_principal(other.token_id, opened)
    with pytest.raises(Unauthenticated):
        app.session_principal(uuid4(), opened)  # an id that is no token is no session either


def test_logging_out_ends_every_session_opened_before_but_not_the_token() -> None:
    clock = FakeClock()
    app = make_app(clock)
    issued = app.issue_token(AGENT, ADMIN)
    before = clock.now()
    clock.advance(minutes=5)

    app.end_sessions(issued.token_id)

    with pytest.raises(Unauthenticated, match="^not a valid token$"):
        app.session_principal(issued.token_id, before)
    clock.advance(minutes=1)
    assert app.session_principal(issued.token_id, clock.now()) == AGENT  # a new login
    assert app.authenticate(issued.text) == AGENT  # the API's token still holds
