"""Case lists, the work queue and needs-your-action: their order, filters and scoping checked
against the same lists worked out independently from the raw events, on every adapter; unread
counts and read marks; the CLI's `ntd case list` and `ntd queue`."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.case import Authenticity, Case, Deadline, Lane, State
from domain.lifecycle import RESOLVED
from domain.notifier import Notifier
from domain.values import DomainEvent
from ntd.cli import cli
from projections import ReadStore, catch_up
from projections.memory import MemoryReadStore
from projections.models import CaseLine, CaseQuery, NeedsAction
from projections.rebuild import Positions, rebuild
from tests.unit.dashboard_oracle import replayed
from tests.unit.projection_fixtures import (
    ADAPTERS,
    ALICE,
    BOB,
    MARIA,
    Adapter,
    History,
    adapter_for,
    build_history,
    opened,
    reporter,
    seller_user,
)

pytestmark = pytest.mark.fast

STAFF = tuple(str(who) for who in (ALICE, BOB, MARIA))
EVERYTHING = 10**6


# -- the lists worked out from the events ------------------------------------------------------


@dataclass
class Expected:
    """One case as the events tell it, and the conversation and managers around it."""

    case_id: UUID
    notifier_id: UUID
    marketplace: str
    listing_id: str
    seller_id: str
    lane: Lane
    filed_at: datetime
    state: State
    deadlines: dict[Deadline, datetime]
    verdict: Authenticity | None
    messages: list[tuple[int, str]] = field(default_factory=list)
    """(case version, author `kind:id`) of each message."""


@dataclass
class World:
    """Every case, and each notifier's account manager, from the raw events alone."""

    cases: dict[UUID, Expected]
    managers: dict[UUID, str]

    @classmethod
    def of(cls, events: Sequence[DomainEvent]) -> World:
        by_case: dict[UUID, list[DomainEvent]] = defaultdict(list)
        managers: dict[UUID, str] = {}
        for e in events:
            if isinstance(e, Notifier.AccountManagerAssigned):
                managers[e.originator_id] = f"{e.manager.kind.value}:{e.manager.id}"
            elif type(e).__qualname__.startswith("Case."):
                by_case[e.originator_id].append(e)
        cases = {}
        for case_id, stream in by_case.items():
            filed = stream[0]
            assert isinstance(filed, Case.Filed)
            aggregate = replayed(stream)
            answers = [e for e in stream if isinstance(e, Case.IdentificationAnswered)]
            cases[case_id] = Expected(
                case_id,
                filed.notifier_id,
                filed.listing.marketplace,
                filed.listing.listing_id,
                filed.listing.seller_id,
                filed.lane,
                filed.timestamp,
                aggregate.state,
                dict(aggregate.deadlines),
                answers[-1].verdict if answers else None,
                [
                    (e.originator_version, f"{e.actor.kind.value}:{e.actor.id}")
                    for e in stream
                    if isinstance(e, Case.MessagePosted)
                ],
            )
        return cls(cases, managers)

    def unread(self, case: Expected, viewer: str, marks: dict[tuple[str, UUID], int]) -> int:
        """Messages by others after both the viewer's read mark and its own last message."""
        own = [version for version, author in case.messages if author == viewer]
        seen = max([marks.get((viewer, case.case_id), 0), *own])
        return sum(1 for version, author in case.messages if author != viewer and version > seen)

    def selected(self, query: CaseQuery) -> list[Expected]:
        """The cases the query's filters keep, in no particular order."""
        kept = []
        for c in self.cases.values():
            due = (
                c.deadlines.get(query.deadline)
                if query.deadline
                else min(c.deadlines.values(), default=None)
            )
            if (
                (query.reach is None or c.notifier_id in query.reach)
                and query.notifier_id in (None, c.notifier_id)
                and query.marketplace in (None, c.marketplace)
                and query.seller_id in (None, c.seller_id)
                and query.lane in (None, c.lane)
                and (not query.states or c.state in query.states)
                and not (query.open_only and c.state in RESOLVED)
                and (query.deadline is None or query.deadline in c.deadlines)
                and (query.due_before is None or (due is not None and due <= query.due_before))
            ):
                kept.append(c)
        return kept

    def queue(self, query: CaseQuery) -> list[UUID]:
        """The work queue as the key stated in projections.queues, computed here: open
        trusted-lane reviews first, then the viewer's own notifiers, then the nearest due
        deadline (of the kind asked, if any; none last), then the oldest filing, then the id."""

        def key(c: Expected) -> tuple[Any, ...]:
            due = (
                c.deadlines.get(query.deadline)
                if query.deadline
                else min(c.deadlines.values(), default=None)
            )
            return (
                Deadline.REVIEW not in c.deadlines,
                self.managers.get(c.notifier_id) != query.viewer,
                due is None,
                due if due is not None else c.filed_at,
                c.filed_at,
                str(c.case_id),
            )

        wanted = query.model_copy(update={"open_only": True})
        ordered = sorted(self.selected(wanted), key=key)
        return [c.case_id for c in ordered][: query.limit or 100]

    def newest(self, query: CaseQuery) -> list[UUID]:
        """A case list: the latest filing first, then by id."""
        ordered = sorted(self.selected(query), key=lambda c: str(c.case_id))
        ordered.sort(key=lambda c: c.filed_at, reverse=True)
        return [c.case_id for c in ordered][: query.limit or 100]


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def history() -> History:
    return build_history(seed=8, rounds=400)


@pytest.fixture(scope="module")
def world(history: History) -> World:
    return World.of([e for _, e in history.events()])


@pytest.fixture(scope="module", params=ADAPTERS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, history: History
) -> Iterator[ReadStore]:
    """One caught-up store per adapter, never marked read: for the tests that only read."""
    adapter = adapter_for(request.param, tmp_path_factory.mktemp("queues"))
    for store in opened(adapter):
        catch_up(history.app, store)
        yield store


@pytest.fixture(params=ADAPTERS)
def adapter(request: pytest.FixtureRequest, tmp_path: Path) -> Adapter:
    return adapter_for(request.param, tmp_path)


@pytest.fixture
def store(adapter: Adapter) -> Iterator[ReadStore]:
    yield from opened(adapter)


def ids(lines: Sequence[CaseLine]) -> list[UUID]:
    return [line.case_id for line in lines]


def test_the_history_gives_the_queue_something_to_order(history: History, world: World) -> None:
    open_cases = [c for c in world.cases.values() if c.state not in RESOLVED]
    assert any(Deadline.REVIEW in c.deadlines for c in open_cases)
    assert any(not c.deadlines for c in open_cases)
    assert set(world.managers.values()) == {str(MARIA), str(BOB)}
    assert any(c.messages for c in world.cases.values())
    assert {c.verdict for c in world.cases.values()} >= set(Authenticity)


# -- the work queue ----------------------------------------------------------------------------

QUERIES = (
    CaseQuery(),
    CaseQuery(lane=Lane.TRUSTED),
    CaseQuery(deadline=Deadline.COUNTER_NOTICE),
    CaseQuery(deadline=Deadline.REVIEW, limit=3),
    CaseQuery(states=(State.FILED, State.AWAITING_CLARIFICATION)),
    CaseQuery(states=(State.DECLINED,)),  # resolved: never in a queue
    CaseQuery(limit=7),
)


@pytest.mark.parametrize("viewer", STAFF)
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: repr(q.model_dump(exclude_unset=True)))
def test_the_queue_puts_reviews_first_then_the_viewers_notifiers_then_the_nearest_deadline(
    shared: ReadStore, world: World, viewer: str, query: CaseQuery
) -> None:
    asked = query.model_copy(update={"viewer": viewer, "limit": query.limit or EVERYTHING})
    lines = shared.queue(asked)
    assert ids(lines) == world.queue(asked)
    assert all(line.state not in RESOLVED for line in lines)


def test_the_queue_of_a_manager_starts_its_own_notifiers_after_the_reviews(
    shared: ReadStore, world: World
) -> None:
    lines = shared.queue(CaseQuery(viewer=str(MARIA), limit=EVERYTHING))
    after_reviews = [line for line in lines if Deadline.REVIEW not in line.deadlines]
    mine = [line.account_manager == str(MARIA) for line in after_reviews]
    assert mine[0] and True in mine and False in mine
    assert mine == sorted(mine, reverse=True)  # all of Maria's before any other


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    rounds=st.integers(20, 160),
    viewer=st.sampled_from(STAFF),
    lane=st.sampled_from((None, *Lane)),
    kind=st.sampled_from((None, *Deadline)),
    states=st.lists(st.sampled_from(list(State)), max_size=3, unique=True),
    limit=st.integers(1, 60),
)
def test_any_queue_is_its_cases_sorted_by_the_stated_key(
    seed: int,
    rounds: int,
    viewer: str,
    lane: Lane | None,
    kind: Deadline | None,
    states: list[State],
    limit: int,
) -> None:
    history = build_history(seed, rounds=rounds)
    store = MemoryReadStore()
    catch_up(history.app, store)
    world = World.of([e for _, e in history.events()])
    query = CaseQuery(viewer=viewer, lane=lane, deadline=kind, states=tuple(states), limit=limit)
    assert ids(store.queue(query)) == world.queue(query)


# -- case lists --------------------------------------------------------------------------------


def list_queries(history: History, world: World) -> list[CaseQuery]:
    acme, globex = history.notifiers["Acme"][0], history.notifiers["Globex"][0]
    some = next(iter(world.cases.values()))
    moment = history.clock.now() + timedelta(days=5)
    return [
        CaseQuery(),
        CaseQuery(notifier_id=acme),
        CaseQuery(reach=frozenset({globex})),
        CaseQuery(reach=frozenset()),
        CaseQuery(marketplace=some.marketplace, seller_id=some.seller_id),
        CaseQuery(states=(State.TAKEN_DOWN, State.COUNTER_NOTICED)),
        CaseQuery(lane=Lane.TRUSTED, notifier_id=acme),
        CaseQuery(due_before=moment),
        CaseQuery(due_before=moment, deadline=Deadline.COUNTER_NOTICE),
        CaseQuery(deadline=Deadline.IDENTIFICATION),
        CaseQuery(open_only=True, limit=5),
    ]


def test_case_lists_hold_the_cases_their_filters_select_the_latest_filed_first(
    shared: ReadStore, history: History, world: World
) -> None:
    for query in list_queries(history, world):
        asked = query if query.limit else query.model_copy(update={"limit": EVERYTHING})
        assert ids(shared.case_list(asked)) == world.newest(asked), query
    assert shared.case_list(CaseQuery(limit=4)) == shared.case_list(CaseQuery())[:4]


def test_each_line_shows_its_case_as_the_events_tell_it(
    shared: ReadStore, history: History, world: World
) -> None:
    names = {n: name for name, (n, _) in history.notifiers.items()}
    for line in shared.case_list(CaseQuery(limit=EVERYTHING)):
        case = world.cases[line.case_id]
        assert (line.state, line.deadlines, line.lane) == (case.state, case.deadlines, case.lane)
        assert (line.marketplace, line.listing_id, line.seller_id) == (
            case.marketplace,
            case.listing_id,
            case.seller_id,
        )
        assert line.notifier_name == names[case.notifier_id]
        assert line.account_manager == world.managers.get(case.notifier_id)
        assert line.identification_verdict == case.verdict
        assert line.unread is None  # nobody asked
        if case.deadlines:
            assert line.next_due_at == min(case.deadlines.values())


# -- scoping -----------------------------------------------------------------------------------


def test_a_brand_never_sees_another_brands_cases_or_messages(
    shared: ReadStore, history: History, world: World
) -> None:
    for name, (notifier_id, _) in history.notifiers.items():
        viewer = str(reporter(name))
        reach = frozenset({notifier_id})
        lines = shared.case_list(CaseQuery(reach=reach, viewer=viewer, limit=EVERYTHING))
        items = shared.needs_action(reach, viewer)
        queued = shared.queue(CaseQuery(reach=reach, viewer=viewer, limit=EVERYTHING))
        assert lines and items
        for case_id in {*ids(lines), *ids(queued), *(i.case_id for i in items)}:
            assert world.cases[case_id].notifier_id == notifier_id
        own = [c for c in world.cases.values() if c.notifier_id == notifier_id]
        assert sum(line.unread or 0 for line in lines) == sum(
            world.unread(c, viewer, {}) for c in own
        )
        board = shared.dashboard(notifier_id, history.clock.now(), history.app.rules, viewer)
        assert board.needs_action.unread_messages == sum(world.unread(c, viewer, {}) for c in own)


def test_a_seller_sees_only_its_own_cases_and_never_who_speaks_or_what_is_said(
    shared: ReadStore, world: World
) -> None:
    some = next(c for c in world.cases.values() if c.messages)
    query = CaseQuery(
        marketplace=some.marketplace,
        seller_id=some.seller_id,
        for_seller=True,
        viewer=str(seller_user(some.seller_id)),
        limit=EVERYTHING,
    )
    lines = shared.case_list(query)
    assert some.case_id in ids(lines)
    for line in lines:
        assert (line.marketplace, line.seller_id) == (some.marketplace, some.seller_id)
        assert line.notifier_name is line.account_manager is line.identification_verdict is None
        assert line.unread is None


# -- needs your action -------------------------------------------------------------------------


def test_needs_action_lists_each_request_and_forwarded_counter_notice_with_its_date(
    shared: ReadStore, history: History, world: World
) -> None:
    for name, (notifier_id, _) in history.notifiers.items():
        viewer = str(reporter(name))
        expected = set()
        for c in world.cases.values():
            if c.notifier_id != notifier_id:
                continue
            for kind, action in (
                (Deadline.CLARIFICATION, NeedsAction.CLARIFICATION),
                (Deadline.IDENTIFICATION, NeedsAction.IDENTIFICATION),
                (Deadline.RESTORATION, NeedsAction.COUNTER_NOTICE),
            ):
                if kind in c.deadlines:
                    expected.add((action, c.case_id, c.deadlines[kind]))
            if world.unread(c, viewer, {}):
                expected.add((NeedsAction.MESSAGES, c.case_id, None))
        items = shared.needs_action(frozenset({notifier_id}), viewer)
        assert {(i.action, i.case_id, i.due) for i in items} == expected
        dues = [i.due for i in items if i.due is not None]
        assert dues == sorted(dues)
        assert all(i.due is not None for i in items[: len(dues)])


def test_every_kind_of_action_is_somebodys(shared: ReadStore, history: History) -> None:
    found = {
        item.action
        for name, (notifier_id, _) in history.notifiers.items()
        for item in shared.needs_action(frozenset({notifier_id}), str(reporter(name)))
    }
    assert found == set(NeedsAction)


# -- unread counts and read marks --------------------------------------------------------------


@pytest.fixture
def talk(store: ReadStore) -> tuple[History, ReadStore]:
    """A short history of its own (the tests post messages), caught up in the store."""
    history = build_history(seed=8, rounds=150)
    catch_up(history.app, store)
    return history, store


def unread_of(store: ReadStore, viewer: str, case_id: UUID) -> int | None:
    (line,) = [
        line
        for line in store.case_list(CaseQuery(viewer=viewer, limit=EVERYTHING))
        if line.case_id == case_id
    ]
    return line.unread


def test_unread_counts_fall_to_zero_once_read_and_rise_with_the_next_message(
    talk: tuple[History, ReadStore],
) -> None:
    history, store = talk
    viewer = str(MARIA)
    case_id = history.open_ids[0]
    notifier_id = history.case(case_id).notifier_id
    user = reporter(next(n for n, (i, _) in history.notifiers.items() if i == notifier_id))
    for text in ("Photos attached.", "And the invoice."):
        history.app.post_message(case_id, text, (), user)
    catch_up(history.app, store)
    world = World.of([e for _, e in history.events()])
    assert unread_of(store, viewer, case_id) == world.unread(world.cases[case_id], viewer, {}) >= 2
    version = history.app.case(case_id, ALICE).version
    store.mark_read(viewer, case_id, version)
    assert unread_of(store, viewer, case_id) == 0
    store.mark_read(viewer, case_id, 1)  # a mark never moves back
    assert unread_of(store, viewer, case_id) == 0
    history.app.post_message(case_id, "Anything else?", (), user)
    catch_up(history.app, store)
    assert unread_of(store, viewer, case_id) == 1
    assert unread_of(store, str(user), case_id) == 0  # its own messages are not news to it
    history.app.post_message(case_id, "Looking into it.", (), MARIA)
    catch_up(history.app, store)
    assert unread_of(store, viewer, case_id) == 0  # answering shows it was read


def test_read_marks_are_not_views_a_rebuild_replaces(talk: tuple[History, ReadStore]) -> None:
    history, store = talk
    viewer = str(BOB)
    before = {
        line.case_id: line.unread
        for line in store.case_list(CaseQuery(viewer=viewer, limit=EVERYTHING))
        if line.unread
    }
    assert before
    read = next(iter(before))
    store.mark_read(viewer, read, history.app.case(read, ALICE).version)
    rebuild(store, [history.events()], Positions(history.last_id()))
    after = {
        line.case_id: line.unread
        for line in store.case_list(CaseQuery(viewer=viewer, limit=EVERYTHING))
        if line.unread
    }
    assert after == {k: v for k, v in before.items() if k != read}


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[History, Path]]:
    """A history in an embedded SQLite store, as the CLI finds it in its data dir."""
    data_dir = tmp_path_factory.mktemp("cli") / "ntd"
    data_dir.mkdir()
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(data_dir / "events.db"),
    }
    history = build_history(seed=8, rounds=200, env=env)
    yield history, data_dir


def ntd(data_dir: Path, now: datetime, *args: str) -> Result:
    env = {name: None for name in os.environ if name.startswith("NTD_")}
    env |= {"NTD_DATA_DIR": str(data_dir), "NTD_NOW": now.isoformat(), "NTD_LOG_FORMAT": "json"}
    result = CliRunner().invoke(cli, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.mark.sqlite
def test_the_cli_lists_and_queues_only_what_each_viewer_may_see(
    embedded: tuple[History, Path],
) -> None:
    history, data_dir = embedded
    now = history.clock.now()
    world = World.of([e for _, e in history.events()])
    acme = history.notifiers["Acme"][0]
    jean = str(reporter("Acme"))

    listed = json.loads(ntd(data_dir, now, "case", "list", "--format", "json", "--as", jean).stdout)
    assert listed and {world.cases[UUID(r["case_id"])].notifier_id for r in listed} == {acme}
    assert {r["notifier"] for r in listed} == {"Acme"}

    refused = ntd(data_dir, now, "queue", "--as", jean)
    assert refused.exit_code == 1 and "ntd queue --brand" in refused.stderr
    other = ntd(data_dir, now, "queue", "--brand", "Globex", "--as", jean)
    assert other.exit_code == 2 and "no notifier is named 'Globex'" in other.stderr
    actions = json.loads(
        ntd(data_dir, now, "queue", "--brand", "Acme", "--format", "json", "--as", jean).stdout
    )
    assert {world.cases[UUID(a["case_id"])].notifier_id for a in actions} <= {acme}

    queued = ntd(data_dir, now, "queue", "--format", "csv", "--limit", "500", "--as", str(MARIA))
    assert queued.exit_code == 0, queued.output
    rows = queued.stdout.splitlines()
    assert rows[0].startswith("rank,case_id,notifier,manager")
    order = [UUID(row.split(",")[1]) for row in rows[1:]]
    assert order == world.queue(CaseQuery(viewer=str(MARIA), limit=500))


@pytest.mark.sqlite
def test_a_seller_lists_its_own_cases_with_what_it_may_still_do(
    embedded: tuple[History, Path],
) -> None:
    history, data_dir = embedded
    now = history.clock.now()
    world = World.of([e for _, e in history.events()])
    case = next(c for c in world.cases.values() if Deadline.COUNTER_NOTICE in c.deadlines)
    seller, key = str(seller_user(case.seller_id)), f"{case.marketplace}/{case.seller_id}"

    shown = ntd(data_dir, now, "case", "list", "--seller", key, "--format", "json", "--as", seller)
    assert shown.exit_code == 0, shown.output
    rows = {UUID(r["case_id"]): r for r in json.loads(shown.stdout)}
    assert set(rows) == {
        c.case_id
        for c in world.cases.values()
        if (c.marketplace, c.seller_id) == (case.marketplace, case.seller_id)
    }
    window = case.deadlines[Deadline.COUNTER_NOTICE]
    assert rows[case.case_id]["next"] == ("counter-notice" if now <= window else None)
    assert all(
        set(r) == {"case_id", "filed_at", "listing", "state", "next", "by"} for r in rows.values()
    )
    table = ntd(data_dir, now, "case", "list", "--seller", key, "--as", seller).stdout
    assert table.splitlines()[0].split() == [
        "CASE",
        "ID",
        "FILED",
        "AT",
        "LISTING",
        "STATE",
        "NEXT",
        "BY",
    ]

    for args in (
        (),
        ("--seller", f"{case.marketplace}/nobody"),
        ("--seller", "other/" + case.seller_id),
    ):
        refused = ntd(data_dir, now, "case", "list", *args, "--as", seller)
        assert refused.exit_code != 0
    missing = ntd(
        data_dir, now, "case", "list", "--seller", f"{case.marketplace}/nobody", "--as", seller
    )
    foreign = next(s for s in {c.seller_id for c in world.cases.values()} if s != case.seller_id)
    other = ntd(
        data_dir, now, "case", "list", "--seller", f"{case.marketplace}/{foreign}", "--as", seller
    )
    assert missing.stderr.replace("nobody", foreign) == other.stderr  # the same refusal
    assert ntd(data_dir, now, "queue", "--as", seller).exit_code == 1
