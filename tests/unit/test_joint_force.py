"""Joint-Force collaboration on the write side: authenticity identification (requested, answered,
lapsed, cited by the decision that follows), a case's conversation, account managers, and who
may do each."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from consumers import contracts
from consumers.envelope import encode
from domain.access import Grant
from domain.application import NtdApplication
from domain.case import (
    Authenticity,
    Case,
    CaseError,
    Deadline,
    Evidence,
    IdentificationCited,
    IdentificationItem,
    IllegalStep,
    ItemKind,
    State,
    Step,
)
from domain.catalog import ce_type
from domain.notifier import Notifier, NotifierAlreadyDone, NotifierError, NotifierKind
from domain.permissions import Forbidden
from domain.values import (
    SYSTEM,
    Actor,
    ActorKind,
    AlreadyDone,
    InvalidInput,
    NotFound,
    Role,
)
from ntd.deadlines import fire
from projections.models import DueDeadline
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    BRAND_USER,
    EVIDENCE_HASH,
    LONG_AFTER,
    SELLER,
    Desk,
    log_size,
    make_desk,
    reach,
    reasons,
)

pytestmark = pytest.mark.fast

PHOTO = "ab" * 32
OTHER_USER = Actor(kind=ActorKind.NOTIFIER_USER, id="eve")
"""A reporter of another brand than the desk's."""
MANAGER = Actor(kind=ActorKind.AGENT, id="marco")
"""Platform staff holding account_manager."""
PLAIN_AGENT = Actor(kind=ActorKind.AGENT, id="carol")
"""Platform staff holding the agent role only."""
ITEMS = (
    IdentificationItem(kind=ItemKind.LISTING, reference="https://shop.example/item/L-1"),
    IdentificationItem(kind=ItemKind.TEST_BUY, reference="order 88121", sha256=PHOTO),
)
PROOF = (Evidence(kind="photo", reference="compare-1.jpg", sha256=EVIDENCE_HASH),)


def _other_brand(desk: Desk) -> UUID:
    """A second brand, whose only user is OTHER_USER."""
    app = desk.app
    other = app.register_notifier("Halcyon", NotifierKind.BRAND, "legal@halcyon.example", AGENT)
    app.grant_role(OTHER_USER, Grant(role=Role.REPORTER, notifier_id=other), ADMIN)
    return other


def _staff(desk: Desk) -> None:
    desk.app.grant_role(MANAGER, Grant(role=Role.ACCOUNT_MANAGER), ADMIN)
    desk.app.grant_role(PLAIN_AGENT, Grant(role=Role.AGENT), ADMIN)


def _ask(desk: Desk, case_id: UUID, by: Actor = AGENT) -> Case:
    return desk.app.request_identification(case_id, "Are these bags genuine?", ITEMS, by)


def _answer(desk: Desk, case_id: UUID, verdict: Authenticity, by: Actor = BRAND_USER) -> Case:
    return desk.app.answer_identification(case_id, verdict, "Hologram missing.", PROOF, by)


def _last(desk: Desk, case_id: UUID) -> Any:
    return desk.app.case_events(case_id, AGENT)[-1]


# -- requesting and answering -------------------------------------------------------------------


def test_a_request_opens_the_identification_deadline_in_business_days_from_the_rules() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    asked_at = desk.clock.moment

    case = _ask(desk, case_id)

    due = desk.app.calendar.add_business_days(asked_at, desk.app.rules.identification_days)
    assert desk.app.rules.identification_days == 5
    assert case.state is State.FILED
    assert case.deadlines[Deadline.IDENTIFICATION] == due
    event = _last(desk, case_id)
    assert isinstance(event, Case.IdentificationRequested)
    assert (event.step, event.items, event.respond_by) == (Step.REQUEST_IDENTIFICATION, ITEMS, due)
    assert event.actor == AGENT.acting_as(Role.AGENT)
    assert case.identification_request is not None
    assert case.identification_request.question == "Are these bags genuine?"


@pytest.mark.parametrize("kind", [ItemKind.TEST_BUY, ItemKind.PHOTO, ItemKind.DOCUMENT])
def test_an_item_that_is_a_file_needs_its_hash(kind: ItemKind) -> None:
    with pytest.raises(ValidationError, match=f"a {kind.value} item needs the sha256"):
        IdentificationItem(kind=kind, reference="IMG_1.jpg")

    assert (
        IdentificationItem(kind=kind, reference="IMG_1.jpg", sha256=PHOTO.upper()).sha256 == PHOTO
    )
    assert IdentificationItem(kind=ItemKind.QUESTION, reference="Is the zip a YKK?").sha256 is None


def test_a_request_of_more_than_twenty_items_is_refused_and_nothing_is_stored() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    stored = log_size(desk.app)
    many = [IdentificationItem(kind=ItemKind.LISTING, reference=f"L-{n}") for n in range(21)]

    with pytest.raises(InvalidInput, match="items"):
        desk.app.request_identification(case_id, "Genuine?", many, AGENT)

    assert log_size(desk.app) == stored


def test_only_one_identification_request_is_open_at_a_time() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    _ask(desk, case_id)

    with pytest.raises(CaseError, match="already has an identification request open until"):
        _ask(desk, case_id)

    _answer(desk, case_id, Authenticity.CANNOT_TELL)
    assert Deadline.IDENTIFICATION in _ask(desk, case_id).deadlines  # answered: ask again


def test_an_answer_needs_an_open_request() -> None:
    desk = make_desk()
    case_id = desk.file_one()

    with pytest.raises(CaseError, match="has no open identification request to answer"):
        _answer(desk, case_id, Authenticity.COUNTERFEIT)


def test_an_answer_closes_the_request_and_the_case_keeps_it_with_who_and_when() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    _ask(desk, case_id)
    desk.clock.advance(hours=5)

    case = _answer(desk, case_id, Authenticity.COUNTERFEIT)

    assert case.state is State.FILED
    assert Deadline.IDENTIFICATION not in case.deadlines
    assert case.identification_request is None
    assert case.identification == IdentificationCited(
        verdict=Authenticity.COUNTERFEIT,
        basis="Hologram missing.",
        answered_at=desk.clock.moment,
        answered_by=BRAND_USER.acting_as(Role.REPORTER),
    )
    event = _last(desk, case_id)
    assert isinstance(event, Case.IdentificationAnswered) and event.evidence == PROOF


def test_the_decision_after_an_answer_cites_it_and_a_decision_without_one_cites_nothing() -> None:
    desk = make_desk()
    asked, unasked = desk.file_one(), desk.file_one()
    _ask(desk, asked)
    answer = _answer(desk, asked, Authenticity.COUNTERFEIT).identification

    desk.app.take_down(asked, reasons(), AGENT)
    desk.app.decline(unasked, reasons(), AGENT)

    taken = desk.app.case_events(asked, AGENT)[-2]
    assert isinstance(taken, Case.TakenDown) and taken.identification == answer
    declined = _last(desk, unasked)
    assert isinstance(declined, Case.Declined) and declined.identification is None
    assert "identification" not in declined.model_dump_json()  # stored as before it existed


def test_an_event_stored_before_identification_existed_still_decodes() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    desk.app.decline(case_id, reasons(), AGENT)
    event = _last(desk, case_id)
    stored = json.loads(event.model_dump_json())
    assert "identification" not in stored

    again = Case.Declined.model_validate(stored)

    assert again == event and again.identification is None


GENUINE_WEIGHS = [
    pytest.param(
        State.FILED,
        lambda app, c, **kw: app.take_down(c, reasons(), AGENT, **kw),
        State.TAKEN_DOWN,
        id="take-down",
    ),
    pytest.param(
        State.TAKEN_DOWN_PENDING_REVIEW,
        lambda app, c, **kw: app.confirm_takedown(c, reasons(), AGENT, **kw),
        State.TAKEN_DOWN,
        id="confirm",
    ),
    pytest.param(
        State.COUNTER_NOTICED,
        lambda app, c, **kw: app.reject_appeal(c, reasons(), AGENT, **kw),
        State.APPEAL_REJECTED,
        id="reject-appeal",
    ),
]


@pytest.mark.parametrize(("state", "decide", "after"), GENUINE_WEIGHS)
def test_a_genuine_answer_refuses_keeping_the_listing_down_unless_decided_despite_it(
    state: State, decide: Callable[..., Case], after: State
) -> None:
    desk = make_desk()
    case_id = reach(desk, state)
    _ask(desk, case_id)
    _answer(desk, case_id, Authenticity.GENUINE)
    stored = log_size(desk.app)

    with pytest.raises(CaseError, match="that the goods are genuine; to .* anyway"):
        decide(desk.app, case_id)
    assert log_size(desk.app) == stored

    case = decide(desk.app, case_id, despite_genuine=True)
    assert case.state is after
    cited = next(e for e in reversed(desk.app.case_events(case_id, AGENT)) if hasattr(e, "reasons"))
    assert cited.identification.verdict is Authenticity.GENUINE


def test_a_genuine_answer_does_not_stand_in_the_way_of_declining_or_reinstating() -> None:
    desk = make_desk()
    filed, appealed = reach(desk, State.FILED), reach(desk, State.COUNTER_NOTICED)
    for case_id in (filed, appealed):
        _ask(desk, case_id)
        _answer(desk, case_id, Authenticity.GENUINE)

    assert desk.app.decline(filed, reasons(), AGENT).state is State.DECLINED
    assert desk.app.uphold_appeal(appealed, reasons(), AGENT).state is State.REINSTATED


def test_a_later_counterfeit_answer_replaces_a_genuine_one() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    _ask(desk, case_id)
    _answer(desk, case_id, Authenticity.GENUINE)
    _ask(desk, case_id)
    _answer(desk, case_id, Authenticity.COUNTERFEIT)

    assert desk.app.take_down(case_id, reasons(), AGENT).state is State.TAKEN_DOWN


# -- lapsing and closing -------------------------------------------------------------------------


def test_an_unanswered_request_lapses_through_the_deadline_runner_and_the_case_stays() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    due = _ask(desk, case_id).deadlines[Deadline.IDENTIFICATION]
    desk.clock.set(due)

    fired = fire(
        desk.app, DueDeadline(case_id=case_id, deadline=Deadline.IDENTIFICATION, due_at=due)
    )

    assert fired.skipped is None and fired.case is not None
    case = desk.case(case_id)
    assert case.state is State.FILED
    assert case.missed == [Deadline.IDENTIFICATION]
    assert case.identification_request is None and case.identification is None
    event = _last(desk, case_id)
    assert isinstance(event, Case.DeadlineMissed)
    assert (event.step, event.deadline, event.due_at) == (
        Step.LAPSE_IDENTIFICATION,
        Deadline.IDENTIFICATION,
        due,
    )
    assert event.actor == SYSTEM
    with pytest.raises(CaseError, match="no open identification request"):
        _answer(desk, case_id, Authenticity.COUNTERFEIT)
    assert Deadline.IDENTIFICATION in _ask(desk, case_id).deadlines  # lapsed: ask again


def test_a_request_cannot_lapse_before_it_is_due() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    due = _ask(desk, case_id).deadlines[Deadline.IDENTIFICATION]
    desk.clock.advance(hours=1)

    with pytest.raises(CaseError, match=re.escape(f"not due until {due.isoformat()}")):
        desk.app.miss_deadline(case_id, Deadline.IDENTIFICATION)


def test_a_decision_out_of_the_identification_states_closes_an_open_request_unanswered() -> None:
    desk = make_desk()
    case_id = desk.file_one()
    _ask(desk, case_id)

    case = desk.app.take_down(case_id, reasons(), AGENT)

    assert case.state is State.TAKEN_DOWN
    assert Deadline.IDENTIFICATION not in case.deadlines
    assert case.identification_request is None
    desk.clock.advance(LONG_AFTER)
    with pytest.raises(IllegalStep, match="cannot lapse identification"):
        desk.app.miss_deadline(case_id, Deadline.IDENTIFICATION)
    with pytest.raises(IllegalStep, match="cannot answer identification"):
        _answer(desk, case_id, Authenticity.COUNTERFEIT)


def test_a_request_during_a_fast_lane_review_stays_open_through_the_counter_notice() -> None:
    desk = make_desk(trusted=True)
    case_id = desk.file_one()
    _ask(desk, case_id)

    appealed = desk.app.counter_notice(case_id, "Bought from the brand.", True, SELLER)
    assert appealed.state is State.COUNTER_NOTICED
    assert Deadline.IDENTIFICATION in appealed.deadlines

    answered = _answer(desk, case_id, Authenticity.COUNTERFEIT)
    assert answered.identification is not None
    rejected = desk.app.reject_appeal(case_id, reasons(), AGENT)
    assert _last(desk, case_id).identification == answered.identification
    assert rejected.state is State.APPEAL_REJECTED


@pytest.mark.parametrize(
    "state",
    [
        s
        for s in State
        if s not in (State.FILED, State.TAKEN_DOWN_PENDING_REVIEW, State.COUNTER_NOTICED)
    ],
)
def test_identification_is_asked_only_before_a_decision_during_review_or_on_appeal(
    state: State,
) -> None:
    desk = make_desk()
    case_id = reach(desk, state)

    with pytest.raises(IllegalStep, match="cannot request identification"):
        _ask(desk, case_id)


# -- the conversation ----------------------------------------------------------------------------


def test_messages_record_their_author_role_text_and_evidence_and_move_nothing() -> None:
    desk = make_desk()
    case_id = desk.file_one()

    desk.app.post_message(
        case_id, "Test buy arrives Thursday.\n\tInvoice\tattached.", PROOF, BRAND_USER
    )
    desk.clock.advance(hours=2)
    case = desk.app.post_message(case_id, "Thanks.", (), AGENT)

    assert case.state is State.FILED and case.deadlines == {}
    assert [(m.author, m.text) for m in case.messages] == [
        (BRAND_USER.acting_as(Role.REPORTER), "Test buy arrives Thursday.\n\tInvoice\tattached."),
        (AGENT.acting_as(Role.AGENT), "Thanks."),
    ]
    assert case.messages[0].evidence == PROOF
    assert [type(e).__name__ for e in desk.app.case_events(case_id, AGENT)[-2:]] == [
        "MessagePosted",
        "MessagePosted",
    ]


@pytest.mark.parametrize("control", ["\x00", "\x07", "\r", "\x1b", "\x7f", "\x85"])
def test_a_message_with_a_control_character_is_refused_naming_it(control: str) -> None:
    desk = make_desk()
    case_id = desk.file_one()
    stored = log_size(desk.app)

    with pytest.raises(
        CaseError, match=f"control characters: U\\+{ord(control):04X} at position 4"
    ):
        desk.app.post_message(case_id, f"Look{control}here", (), AGENT)

    assert log_size(desk.app) == stored


def test_a_message_must_hold_text_and_at_most_four_thousand_characters() -> None:
    desk = make_desk()
    case_id = desk.file_one()

    for text in ("", "x" * 4001):
        with pytest.raises(InvalidInput, match="invalid MessagePosted: text"):
            desk.app.post_message(case_id, text, (), AGENT)
    assert desk.app.post_message(case_id, "x" * 4000, (), AGENT).messages


def test_a_resolved_case_takes_messages_and_a_closed_one_does_not() -> None:
    desk = make_desk()
    declined, closed = reach(desk, State.DECLINED), reach(desk, State.CLOSED)

    assert desk.app.post_message(declined, "Why declined?", (), BRAND_USER).messages
    with pytest.raises(CaseError, match="is closed: its conversation takes no more messages"):
        desk.app.post_message(closed, "Hello?", (), BRAND_USER)


# -- who may do what -----------------------------------------------------------------------------


def test_a_brand_can_neither_post_on_nor_read_another_brands_conversation() -> None:
    desk = make_desk()
    _other_brand(desk)
    case_id = desk.file_one()
    desk.app.post_message(case_id, "Confidential: our supplier list.", (), BRAND_USER)
    stored = log_size(desk.app)

    with pytest.raises(NotFound, match=f"no case {case_id}"):
        desk.app.post_message(case_id, "Hello neighbour.", (), OTHER_USER)
    with pytest.raises(NotFound):
        desk.app.case(case_id, OTHER_USER)
    with pytest.raises(NotFound):
        desk.app.case_events(case_id, OTHER_USER)
    assert log_size(desk.app) == stored


def test_a_seller_can_neither_post_nor_see_the_conversation() -> None:
    desk = make_desk()
    case_id = reach(desk, State.TAKEN_DOWN)
    desk.app.post_message(case_id, "Our test buy: fake.", PROOF, BRAND_USER)
    stored = log_size(desk.app)

    with pytest.raises(Forbidden, match="may not post messages on cases"):
        desk.app.post_message(case_id, "It is genuine!", (), SELLER)
    assert log_size(desk.app) == stored

    seen = desk.app.case(case_id, SELLER)
    assert seen.messages == [] and seen.state is State.TAKEN_DOWN
    assert desk.app.case(case_id, AGENT).messages  # the staff's copy holds it
    assert desk.app.case_as_of(case_id, desk.clock.moment, SELLER).messages == []
    events = desk.app.case_events(case_id, SELLER)
    assert not any(isinstance(e, Case.MessagePosted) for e in events)
    assert any(isinstance(e, Case.MessagePosted) for e in desk.app.case_events(case_id, BRAND_USER))


def test_a_reporter_answers_only_its_own_notifiers_requests_and_only_the_notifier_answers() -> None:
    desk = make_desk()
    _other_brand(desk)
    case_id = desk.file_one()
    _ask(desk, case_id)

    with pytest.raises(NotFound):
        _answer(desk, case_id, Authenticity.GENUINE, by=OTHER_USER)
    with pytest.raises(Forbidden, match="may not answer identification requests"):
        _answer(desk, case_id, Authenticity.GENUINE, by=SELLER)
    with pytest.raises(Forbidden, match="may not answer identification requests"):
        _answer(desk, case_id, Authenticity.COUNTERFEIT, by=AGENT)
    assert _answer(desk, case_id, Authenticity.COUNTERFEIT).identification is not None


def test_the_platforms_deciders_request_identification_and_no_one_else() -> None:
    desk = make_desk()
    _staff(desk)
    first, second = desk.file_one(), desk.file_one()

    for outsider in (BRAND_USER, SELLER):
        with pytest.raises(Forbidden, match="may not request identifications"):
            _ask(desk, first, by=outsider)
    assert Deadline.IDENTIFICATION in _ask(desk, first, by=MANAGER).deadlines
    assert Deadline.IDENTIFICATION in _ask(desk, second, by=PLAIN_AGENT).deadlines


# -- account managers ----------------------------------------------------------------------------


def test_a_supervisor_assigns_an_account_manager_and_reassigning_keeps_the_history() -> None:
    desk = make_desk()
    _staff(desk)
    desk.app.grant_role(PLAIN_AGENT, Grant(role=Role.ACCOUNT_MANAGER), ADMIN)

    desk.app.assign_manager(desk.notifier_id, MANAGER, AGENT)  # AGENT is also a supervisor
    desk.clock.advance(7)
    desk.app.assign_manager(desk.notifier_id, PLAIN_AGENT, AGENT)

    notifier = desk.app.notifier(desk.notifier_id, BRAND_USER)  # the brand sees its manager
    assert notifier.account_manager == PLAIN_AGENT
    assert [t.manager for t in notifier.managers] == [MANAGER, PLAIN_AGENT]
    assert notifier.managers[1].assigned_by == AGENT.acting_as(Role.SUPERVISOR)
    events = list(desk.app.events.get(desk.notifier_id))
    assigned = [e for e in events if isinstance(e, Notifier.AccountManagerAssigned)]
    assert [(e.manager, e.previous) for e in assigned] == [(MANAGER, None), (PLAIN_AGENT, MANAGER)]


def test_only_a_supervisor_assigns_and_only_to_staff_holding_account_manager() -> None:
    desk = make_desk()
    _staff(desk)
    stored = log_size(desk.app)

    for who in (PLAIN_AGENT, MANAGER, BRAND_USER):
        with pytest.raises(Forbidden, match="may not assign account managers"):
            desk.app.assign_manager(desk.notifier_id, MANAGER, who)
    with pytest.raises(NotifierError, match="agent:carol does not hold account_manager"):
        desk.app.assign_manager(desk.notifier_id, PLAIN_AGENT, AGENT)
    with pytest.raises(NotifierError, match="an account manager is platform staff"):
        desk.app.assign_manager(desk.notifier_id, BRAND_USER, AGENT)
    assert log_size(desk.app) == stored


def test_assigning_the_same_manager_again_is_already_done() -> None:
    desk = make_desk()
    _staff(desk)
    desk.app.assign_manager(desk.notifier_id, MANAGER, AGENT)

    with pytest.raises(NotifierAlreadyDone, match="agent:marco is already the account manager"):
        desk.app.assign_manager(desk.notifier_id, MANAGER.acting_as(Role.AGENT), AGENT)
    assert issubclass(NotifierAlreadyDone, AlreadyDone)


# -- the published contract ----------------------------------------------------------------------


def test_the_new_events_validate_against_their_published_schemas() -> None:
    desk = make_desk()
    _staff(desk)
    desk.app.assign_manager(desk.notifier_id, MANAGER, AGENT)
    case_id = desk.file_one()
    _ask(desk, case_id)
    _answer(desk, case_id, Authenticity.GENUINE)
    desk.app.post_message(case_id, "Serial 4471 is ours.", PROOF, BRAND_USER)
    desk.app.take_down(case_id, reasons(), AGENT, despite_genuine=True)
    lapsing = desk.file_one()
    _ask(desk, lapsing)
    desk.clock.advance(LONG_AFTER)
    desk.app.miss_deadline(lapsing, Deadline.IDENTIFICATION)

    wanted = {
        ce_type(kind)
        for kind in (
            Notifier.AccountManagerAssigned,
            Case.IdentificationRequested,
            Case.IdentificationAnswered,
            Case.MessagePosted,
            Case.TakenDown,
            Case.DeadlineMissed,
        )
    }
    seen = set()
    for notification in desk.app.recorder.select_notifications(start=1, limit=1000):
        event: Any = desk.app.mapper.to_domain_event(notification)
        message = encode(event, notification.id)
        if message is None:
            continue
        headers = {name: value.decode() for name, value in message.headers}
        if headers["ce_type"] not in wanted:
            continue
        seen.add(headers["ce_type"])
        schema = contracts.schema(headers["ce_type"])
        errors = list(Draft202012Validator(schema).iter_errors(json.loads(message.value)))
        assert not errors, (headers["ce_type"], errors[0].message)
    assert seen == wanted


def test_the_application_has_a_command_for_each_new_step() -> None:
    for name in (
        "request_identification",
        "answer_identification",
        "post_message",
        "assign_manager",
    ):
        assert callable(getattr(NtdApplication, name))
