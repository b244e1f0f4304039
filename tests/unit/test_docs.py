"""docs/domain.md cannot drift from the code: its tables are generated from the lifecycle table,
the rules and the statement of reasons (ntd/docs.py, scripts/docs), a stale table fails here, and
what ntd/docs.py declares by hand (which step opens which deadline, for how long, what closes
it, which periods are calendar days) is checked against what the application does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.application import NtdApplication
from domain.calendar import BusinessCalendar
from domain.case import DEADLINE_STEP, TRANSITIONS, Authenticity, Case, Deadline, State, Step
from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.rules import Rules
from domain.values import Actor, DecisionGround, RightType, StatementOfReasons, Visibility
from ntd import docs
from projections.dashboard import window_start
from tests.unit.domain_fixtures import grant_cast, grant_reporter

pytestmark = pytest.mark.fast  # in memory: the domain on eventsourcing.popo, no store file

THURSDAY = datetime(2031, 3, 6, 10, 30, tzinfo=UTC)
HOLIDAY = date(2031, 3, 10)
"""The Monday after: every deadline opened on THURSDAY spans a weekend and a holiday."""
LENGTHS = Rules(
    clarification_days=3,
    identification_days=8,
    trusted_review_days=4,
    counter_notice_days=6,
    restoration_days=7,
    forwarding_days=5,
    strike_lifetime_days=100,
    trusted_reapply_days=40,
    misuse_suspension_days=12,
    seller_suspension_days=77,
    trusted_window_days=50,
)
"""Every period a different length, so a deadline set from the wrong rule shows."""

AGENT = Actor.parse("agent:alice")
NOTIFIER_USER = Actor.parse("notifier_user:bob")
SELLER = Actor.parse("seller:seller-1")


def _stale_message(issues: list[str]) -> str:
    return "docs/domain.md is stale, run scripts/docs: " + "; ".join(issues)


def _fresh() -> str:
    """docs/domain.md with the tables the code generates now (stale on disk or not)."""
    return docs.render(docs.DOC.read_text(encoding="utf-8"), docs.generated())


# -- the document --------------------------------------------------------------------------------


def test_docs_domain_md_holds_the_tables_the_code_generates() -> None:
    issues = docs.problems(docs.DOC.read_text(encoding="utf-8"), docs.generated())

    assert not issues, _stale_message(issues)


def test_a_changed_rule_default_makes_the_document_stale() -> None:
    changed = Rules(strikes_to_suspend=Rules().strikes_to_suspend + 1)

    assert docs.problems(_fresh(), docs.generated(rules=changed)) == ["stale block: rules: strikes"]


def test_a_changed_deadline_length_makes_the_clocks_stale() -> None:
    changed = Rules(counter_notice_days=Rules().counter_notice_days + 1)

    assert docs.problems(_fresh(), docs.generated(rules=changed)) == ["stale block: clocks"]


MANUAL = [step for step in Step if step not in DEADLINE_STEP.values()]
"""Steps a person gives (a deadline's step also shows in the clocks table)."""


def test_an_added_or_removed_transition_makes_the_lifecycle_tables_stale() -> None:
    new = next((m, s) for m in MANUAL for s in State if (m, s) not in TRANSITIONS)
    added = {**TRANSITIONS, new: State.CLOSED}
    old = next(
        k for k in TRANSITIONS if k[0] in MANUAL and sum(m is k[0] for m, _ in TRANSITIONS) > 1
    )
    removed = {k: v for k, v in TRANSITIONS.items() if k != old}

    for transitions in (added, removed):
        assert docs.problems(_fresh(), docs.generated(transitions=transitions)) == [
            "stale block: states",
            "stale block: transitions",
        ]


def test_a_changed_deadline_effect_makes_the_clocks_stale() -> None:
    key = next(k for k in TRANSITIONS if k[0] in DEADLINE_STEP.values())
    other = next(s for s in State if s is not TRANSITIONS[key])
    changed = {**TRANSITIONS, key: other}

    assert "stale block: clocks" in docs.problems(_fresh(), docs.generated(transitions=changed))


def test_rendering_rewrites_only_the_generated_blocks() -> None:
    blocks = {"one": "| a |\n|---|\n| 1 |", "two": "x"}
    document = (
        "# Title\n\nProse stays.\n\n<!-- generated: one -->\nold table\n<!-- end -->\n"
        "More prose.\n<!-- generated: two -->\n<!-- end -->\n"
    )

    rendered = docs.render(document, blocks)

    assert docs.problems(rendered, blocks) == []
    assert rendered.startswith("# Title\n\nProse stays.\n\n<!-- generated: one -->\n\n| a |")
    assert "old table" not in rendered and "More prose.\n" in rendered
    assert docs.render(rendered, blocks) == rendered


def test_missing_unknown_and_doubled_blocks_are_named() -> None:
    blocks = {"one": "1", "two": "2"}
    document = (
        "<!-- generated: one -->\n\n1\n\n<!-- end -->\n"
        "<!-- generated: one -->\n\n1\n\n<!-- end -->\n"
        "<!-- generated: three -->\n<!-- end -->\n"
    )

    assert docs.problems(document, blocks) == [
        "missing block: two",
        "unknown block: three",
        "block twice: one",
    ]


def test_scripts_docs_checks_and_rewrites_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "domain.md"
    copy.write_text(_fresh())
    assert docs.main(["--check", str(copy)]) == 0
    marker = "<!-- generated: rules: strikes -->\n"
    copy.write_text(copy.read_text().replace(marker, marker + "| an edited row |\n"))

    assert docs.main(["--check", str(copy)]) == 1
    assert "stale block: rules: strikes" in capsys.readouterr().out
    assert docs.main([str(copy)]) == 0
    assert copy.read_text() == _fresh()


def test_an_undocumented_rule_state_or_field_stops_the_generator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    groups = {**docs.RULE_GROUPS, "strikes": ("strike_lifetime_days",)}
    monkeypatch.setattr(docs, "RULE_GROUPS", groups)
    with pytest.raises(LookupError, match="undocumented rules \\['strikes_to_suspend'"):
        docs.generated()
    monkeypatch.undo()

    meanings = {k: v for k, v in docs.STATE_MEANING.items() if k is not State.LAPSED}
    monkeypatch.setattr(docs, "STATE_MEANING", meanings)
    with pytest.raises(LookupError, match="state lapsed has no meaning"):
        docs.generated()
    monkeypatch.undo()

    monkeypatch.delitem(docs.DSA_FIELD, "facts")
    with pytest.raises(LookupError, match="field facts has no DSA_FIELD"):
        docs.generated()


def test_every_step_is_recorded_by_a_case_event() -> None:
    for step in Step:
        event = docs.recorded_as(step)

        assert issubclass(event, Case.Transitioned), step


# -- what ntd/docs.py declares, against what the application does --------------------------------


class _Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def _reasons(ground: DecisionGround = DecisionGround.ILLEGAL_CONTENT) -> StatementOfReasons:
    return StatementOfReasons(
        ground=ground,
        legal_ground="EU trademark regulation 2017/1001, art. 9",
        facts="The test buy showed a counterfeit of the registered mark.",
        visibility=(Visibility.CONTENT_REMOVED,),
    )


class World:
    """An application on an in-memory store, with one notifier whose right is verified."""

    def __init__(self, rules: Rules = LENGTHS) -> None:
        self.clock = _Clock(THURSDAY)
        self.calendar = BusinessCalendar([HOLIDAY])
        self.app = NtdApplication(
            {"PERSISTENCE_MODULE": "eventsourcing.popo"},
            clock=self.clock,
            calendar=self.calendar,
            rules=rules,
        )
        self.rules = rules
        app = self.app
        grant_cast(app)
        self.notifier = app.register_notifier(
            "Acme", NotifierKind.BRAND, "legal@acme.example", AGENT
        )
        self.right = app.register_right(
            self.notifier, RightType.TRADEMARK, "EU-1", "EU", "ab" * 32, AGENT
        )
        app.verify_right(self.notifier, self.right, AGENT)
        grant_reporter(app, self.notifier, NOTIFIER_USER)
        self.listings = 0

    def file(self, trusted: bool = False) -> UUID:
        """A new case, filed in the trusted lane or the normal one."""
        if trusted and not self.app.notifier(self.notifier, AGENT).in_trusted_lane:
            self.app.admit_to_trusted_lane(self.notifier, 1.0, 0.0, self.rules.trusted_min_notices)
        self.listings += 1
        listing = f"L-{self.listings}"
        notice = parse_notice(
            {
                "notifier_id": str(self.notifier),
                "right_id": str(self.right),
                "submitted_by": "bob",
                "listings": [
                    {
                        "marketplace": "shop.example",
                        "listing_id": listing,
                        "url": f"https://shop.example/item/{listing}",
                        "seller_id": "seller-1",
                    }
                ],
                "reason_code": "counterfeit",
                "explanation": "The listing sells counterfeit goods bearing our mark.",
                "evidence": [{"kind": "test_buy", "reference": "order 1", "sha256": "e" * 64}],
                "contact": {"name": "Acme Legal", "email": "legal@acme.example"},
                "good_faith_statement": True,
                "accuracy_statement": True,
                "signature": "/Bob/",
            }
        )
        return self.app.file_notice(notice, NOTIFIER_USER).cases[0].case_id

    def do(self, step: Step, case_id: UUID) -> Case:
        return DO[step](self.app, case_id)


DO: dict[Step, Callable[[NtdApplication, UUID], Case]] = {
    Step.REQUEST_CLARIFICATION: lambda a, c: a.request_clarification(c, "Which mark?", AGENT),
    Step.PROVIDE_CLARIFICATION: lambda a, c: a.provide_clarification(c, "EU-1", NOTIFIER_USER),
    Step.TAKE_DOWN: lambda a, c: a.take_down(c, _reasons(), AGENT),
    Step.CONFIRM_TAKEDOWN: lambda a, c: a.confirm_takedown(c, _reasons(), AGENT),
    Step.REVERSE_TAKEDOWN: lambda a, c: a.reverse_takedown(
        c, _reasons(DecisionGround.NOT_ILLEGAL), AGENT
    ),
    Step.COUNTER_NOTICE: lambda a, c: a.counter_notice(c, "Genuine stock", True, SELLER),
    Step.FORWARD_TO_NOTIFIER: lambda a, c: a.forward_to_notifier(c, AGENT),
    Step.REPORT_LITIGATION: lambda a, c: a.report_litigation(c, "Court", "R-1", NOTIFIER_USER),
    Step.REQUEST_IDENTIFICATION: lambda a, c: a.request_identification(
        c, "Is this genuine?", [], AGENT
    ),
    Step.ANSWER_IDENTIFICATION: lambda a, c: a.answer_identification(
        c, Authenticity.COUNTERFEIT, "Wrong stitching.", [], NOTIFIER_USER
    ),
    Step.DECLINE: lambda a, c: a.decline(c, _reasons(DecisionGround.NOT_ILLEGAL), AGENT),
}
"""The application command behind each step the clocks name."""

OPENING: dict[Step, tuple[bool, tuple[Step, ...]]] = {
    Step.REQUEST_CLARIFICATION: (False, (Step.REQUEST_CLARIFICATION,)),
    Step.TAKE_DOWN_TRUSTED: (True, ()),  # filing in the trusted lane takes down at once
    Step.NOTIFY_SELLER: (False, (Step.TAKE_DOWN,)),  # every takedown notifies the seller
    Step.FORWARD_TO_NOTIFIER: (
        False,
        (Step.TAKE_DOWN, Step.COUNTER_NOTICE, Step.FORWARD_TO_NOTIFIER),
    ),
    Step.COUNTER_NOTICE: (False, (Step.TAKE_DOWN, Step.COUNTER_NOTICE)),
    Step.REQUEST_IDENTIFICATION: (False, (Step.REQUEST_IDENTIFICATION,)),
}
"""How a case gets to the step that opens a deadline: the lane to file in, the commands to give."""


def _opened(world: World, clock: docs.Clock) -> Case:
    trusted, steps = OPENING[clock.opened_by]
    case_id = world.file(trusted)
    for step in steps:
        world.do(step, case_id)
    return world.app.case(case_id, AGENT)


@pytest.mark.parametrize("clock", docs.CLOCKS, ids=lambda c: c.deadline.value)
def test_each_deadline_opens_with_its_step_for_its_rule_in_business_days(clock: docs.Clock) -> None:
    world = World()

    case = _opened(world, clock)

    opening = [
        e
        for e in world.app.case_events(case.id, AGENT)
        if isinstance(e, Case.Transitioned) and e.step is clock.opened_by
    ]
    assert [type(e) for e in opening] == [docs.recorded_as(clock.opened_by)]
    days = getattr(LENGTHS, clock.rule)
    assert case.deadlines[clock.deadline] == world.calendar.add_business_days(THURSDAY, days)
    assert case.deadlines[clock.deadline] > THURSDAY + timedelta(days=days)  # weekend, holiday
    assert clock.rule in docs.business_day_rules()


@pytest.mark.parametrize(
    ("clock", "step"),
    [(clock, step) for clock in docs.CLOCKS for step in clock.closed_by],
    ids=lambda v: v.value if isinstance(v, Step) else v.deadline.value,
)
def test_each_deadline_closes_early_with_the_steps_the_document_names(
    clock: docs.Clock, step: Step
) -> None:
    world = World()
    case = _opened(world, clock)

    after = world.do(step, case.id)

    assert clock.deadline not in after.deadlines
    assert type(world.app.case_events(case.id, AGENT)[-1]) is docs.recorded_as(step)


@pytest.mark.parametrize("clock", docs.CLOCKS, ids=lambda c: c.deadline.value)
def test_a_passed_deadline_does_what_the_lifecycle_table_says(clock: docs.Clock) -> None:
    world = World()
    case = _opened(world, clock)
    world.clock.moment = case.deadlines[clock.deadline]

    after = world.app.miss_deadline(case.id, clock.deadline)

    assert after.state is TRANSITIONS[(DEADLINE_STEP[clock.deadline], case.state)]
    event = world.app.case_events(case.id, AGENT)[-1]
    assert type(event) is docs.recorded_as(DEADLINE_STEP[clock.deadline])


def _strike_expiry(world: World) -> tuple[datetime, datetime]:
    upheld = THURSDAY - timedelta(days=1)
    case_id = uuid4()
    seller_id = world.app.record_strike("shop.example", "seller-1", case_id, upheld_at=upheld)
    return world.app.seller(seller_id, AGENT).strikes[case_id].expires_at, upheld


def _reapply_on(world: World) -> tuple[date, date]:
    world.app.admit_to_trusted_lane(world.notifier, 1.0, 0.0, LENGTHS.trusted_min_notices)
    world.app.remove_from_trusted_lane(world.notifier, "figures")
    reapply = world.app.notifier(world.notifier, AGENT).may_reapply_on
    assert reapply is not None
    return reapply, THURSDAY.date()


def _suspended_until(world: World) -> tuple[datetime, datetime]:
    world.app.warn_notifier(world.notifier, "unfounded", 0.4)
    world.app.suspend_notifier(world.notifier, "still unfounded")
    until = world.app.notifier(world.notifier, AGENT).suspended_until
    assert until is not None
    return until, THURSDAY


def _seller_suspended_until(world: World) -> tuple[datetime, datetime]:
    for _ in range(3):
        seller_id = world.app.record_strike("shop.example", "seller-1", uuid4())
    world.app.suspend_seller(seller_id, "repeat infringer")
    until = world.app.seller(seller_id, AGENT).suspended_until
    assert until is not None
    return until, THURSDAY


def _window(world: World) -> tuple[datetime, datetime]:
    return THURSDAY, window_start(THURSDAY, world.rules)


CALENDAR: dict[str, Callable[[World], tuple[Any, Any]]] = {
    "strike_lifetime_days": _strike_expiry,
    "trusted_reapply_days": _reapply_on,
    "misuse_suspension_days": _suspended_until,
    "trusted_window_days": _window,
    "seller_suspension_days": _seller_suspended_until,
}
"""For each rule the document counts in calendar days: (later, earlier) moments it separates."""


def test_every_period_the_document_counts_in_calendar_days_is_checked() -> None:
    days = {name for name in Rules.model_fields if name.endswith("_days")}

    assert days - docs.business_day_rules() == set(CALENDAR)


@pytest.mark.parametrize("rule", sorted(CALENDAR))
def test_the_periods_the_document_counts_in_calendar_days_are_calendar_days(rule: str) -> None:
    later, earlier = CALENDAR[rule](World())

    assert later - earlier == timedelta(days=getattr(LENGTHS, rule))


def test_every_deadline_is_a_clock_of_the_document() -> None:
    assert sorted(c.deadline for c in docs.CLOCKS) == sorted(Deadline)


# -- docs/portal.md: the API's paths ---------------------------------------------------------

PORTAL_DOC = Path(__file__).resolve().parents[2] / "docs" / "portal.md"


def test_docs_portal_md_lists_every_api_operation_with_its_permission_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table of docs/portal.md and the OpenAPI document name the same operations, each
    with the same permission row: a new route cannot go undocumented."""
    import re

    from ntd.web.app import create_app

    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path))
    spec = create_app().openapi()
    served = {
        (method.upper(), path): op.get("x-permission")
        for path, ops in spec["paths"].items()
        if path.startswith("/api/")
        for method, op in ops.items()
    }
    documented = {
        (m, p): row
        for m, p, row in re.findall(
            r"^\| `(GET|POST) (/api/v1/\S*)` \| .* \| `(\w+)` \|$",
            PORTAL_DOC.read_text(encoding="utf-8"),
            flags=re.MULTILINE,
        )
    }
    assert documented == served
