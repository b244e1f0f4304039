"""Clocks that go backwards or run ahead: an aggregate never records an event earlier than its
latest one, and deadlines fire at a future time only in an explicit rehearsal (issue 16)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from domain.case import Case, Evidence, Lane, Listing, ReasonCode
from domain.values import (
    Actor,
    ActorKind,
    ClockWentBack,
    DecisionGround,
    RightType,
    StatementOfReasons,
    Visibility,
)
from tests.unit.test_cli import (  # noqa: F401  (fixtures used by name)
    ALICE,
    ROOT,
    SELLER,
    data_dir,
    error_lines,
    filed,
    ok,
    run,
    staff,
    stored_events,
)

AGENT = Actor(kind=ActorKind.AGENT, id="alice")
FILED_AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def events() -> int:
    return stored_events(Path(os.environ["NTD_DATA_DIR"]))


def a_case(at: datetime = FILED_AT) -> Case:
    listing = Listing(
        marketplace="marketly", listing_id="B1", url="https://m.example/1", seller_id="s"
    )
    evidence = (Evidence(kind="photo", reference="r", sha256="0" * 64),)
    notifier = Actor(kind=ActorKind.NOTIFIER_USER, id="j")
    return Case.file(
        uuid4(),
        uuid4(),
        uuid4(),
        uuid4(),
        RightType.TRADEMARK,
        listing,
        ReasonCode.COUNTERFEIT,
        "explained at length",
        evidence,
        Lane.NORMAL,
        notifier,
        at,
    )


REASONS = StatementOfReasons(
    ground=DecisionGround.ILLEGAL_CONTENT,
    legal_ground="EUTMR Art. 9",
    facts="counterfeit",
    visibility=(Visibility.CONTENT_DISABLED,),
)


@pytest.mark.fast
def test_an_event_earlier_than_the_latest_is_refused_naming_both_times() -> None:
    case = a_case()
    earlier = FILED_AT - timedelta(days=400)
    with pytest.raises(ClockWentBack) as refused:
        case.take_down(REASONS, AGENT, earlier, None)
    message = str(refused.value)
    assert earlier.isoformat() in message and FILED_AT.isoformat() in message
    assert case.version == 1  # nothing recorded


@pytest.mark.fast
def test_events_at_the_same_moment_or_later_are_recorded() -> None:
    case = a_case()
    case.take_down(REASONS, AGENT, FILED_AT, None)
    case.notify_seller(FILED_AT + timedelta(days=10), AGENT, FILED_AT + timedelta(seconds=1))
    assert case.version == 3


@pytest.mark.fast
def test_a_counter_notice_dated_before_the_takedown_is_refused() -> None:
    case = a_case()
    case.take_down(REASONS, AGENT, FILED_AT, None)
    case.notify_seller(FILED_AT + timedelta(days=14), AGENT, FILED_AT)
    seller = Actor(kind=ActorKind.SELLER, id="luxe")
    with pytest.raises(ClockWentBack, match="CounterNoticed at 2025-"):
        case.counter_notice("mine", True, seller, datetime(2025, 1, 1, tzinfo=UTC))


def test_a_counter_notice_from_a_clock_set_back_is_refused_and_nothing_is_written(
    filed: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    before = events()
    monkeypatch.setenv("NTD_NOW", "2001-01-01T00:00Z")  # a clock set back, but in range
    statement = ("--statement", "Genuine stock", "--consent", "--as", SELLER)
    result = run("case", "counter-notice", case, *statement)
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = error_lines(result)
    assert "2001-01-01T00:00:00+00:00 would be earlier than its latest event at 20" in line
    monkeypatch.setenv("NTD_NOW", "1970-01-01T00:00Z")  # the Unix epoch: refused on reading
    result = run("case", "counter-notice", case, *statement)
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "NTD_NOW" in line and "outside the years" in line
    assert events() == before
    monkeypatch.delenv("NTD_NOW")
    ok("case", "counter-notice", case, *statement)


def test_firing_deadlines_in_the_future_needs_a_rehearsal(
    filed: dict[str, str],  # noqa: F811
) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    later = (datetime.now(UTC) + timedelta(days=40)).isoformat()
    before = events()
    result = run("deadlines", "run", "--now", later, "--as", ROOT)
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = error_lines(result)
    assert "is later than the clock" in line and "--rehearsal" in line
    assert events() == before
    assert "nothing fired" in ok("deadlines", "run", "--now", later, "--dry-run", "--as", ROOT)
    fired = ok("deadlines", "run", "--now", later, "--rehearsal", "--as", ROOT)
    assert "1 fired" in fired
    shown = json.loads(ok("case", "show", case, "--json", "--as", ALICE))
    assert shown["timeline"][-1]["event_type"] == "deadline_missed"


def test_firing_deadlines_now_or_in_the_past_needs_no_rehearsal(
    filed: dict[str, str],  # noqa: F811
) -> None:
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert "0 fired" in ok("deadlines", "run", "--now", earlier, "--as", ROOT)
    assert "0 fired" in ok("deadlines", "run", "--as", ROOT)


def test_a_deadline_run_earlier_than_a_case_s_latest_event_skips_that_case(
    filed: dict[str, str],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    now = datetime.now(UTC)
    monkeypatch.setenv("NTD_NOW", (now + timedelta(days=60)).isoformat())
    ok("case", "message", case, "--text", "Test buy arrives Thursday", "--as", ALICE)
    monkeypatch.delenv("NTD_NOW")
    before = events()
    run_at = (now + timedelta(days=40)).isoformat()
    skipped = ok("deadlines", "run", "--now", run_at, "--rehearsal", "--as", ROOT)
    assert "0 fired, 1 skipped" in skipped and "would be earlier than its latest event" in skipped
    assert events() == before
