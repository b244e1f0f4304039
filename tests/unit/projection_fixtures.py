"""Helpers for the projection tests: a settable clock, seeded random histories, store adapters."""

from __future__ import annotations

import itertools
import os
import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest

from domain.access import Grant, SellerKey
from domain.application import NtdApplication
from domain.case import (
    DEADLINE_STEP,
    TRANSITIONS,
    Authenticity,
    Case,
    Deadline,
    IdentificationItem,
    ItemKind,
    ReasonCode,
    State,
)
from domain.lifecycle import IDENTIFYING
from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.values import (
    SYSTEM,
    Actor,
    ActorKind,
    DecisionGround,
    DomainError,
    DomainEvent,
    RightType,
    Role,
    StatementOfReasons,
    Visibility,
)
from ntd.bootstrap import open_read_store
from projections import ReadStore
from projections.audit import AuditRecord
from projections.memory import MemoryReadStore

START = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
"""A Monday far from the host's clock."""

ALICE = Actor(kind=ActorKind.AGENT, id="alice")
BOB = Actor(kind=ActorKind.AGENT, id="bob")
"""Platform staff deciding cases: both hold the agent and supervisor roles (grant_cast)."""
ADMIN = Actor(kind=ActorKind.AGENT, id="root")
"""The store's first admin, who grants everyone else their roles."""
MARIA = Actor(kind=ActorKind.AGENT, id="maria")
"""An account manager (agent powers): the manager of some brands, and deciding cases too."""
MARKETPLACES = ("shop.example", "bazaar.example")
SELLERS = tuple(f"s-{n:02d}" for n in range(1, 13))
POSTGRES_URL = os.environ.get(
    "NTD_TEST_READ_URL", "postgresql://ntd:ntd@127.0.0.1:5432/ntd_test_read"
)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = START) -> None:
        self.moment = start

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> datetime:
        """Move forward, e.g. `advance(hours=3)`."""
        self.moment += timedelta(**delta)
        return self.moment


def reasons(ground: DecisionGround = DecisionGround.ILLEGAL_CONTENT) -> StatementOfReasons:
    """A reviewer's statement of reasons."""
    return StatementOfReasons(
        ground=ground,
        legal_ground="EU trademark regulation 2017/1001, art. 9",
        facts="The test buy showed a counterfeit of the registered mark.",
        visibility=(Visibility.CONTENT_REMOVED,),
    )


def reporter(name: str) -> Actor:
    """The notifier's user who files and speaks for the named brand's notices."""
    return Actor(kind=ActorKind.NOTIFIER_USER, id=f"{name.lower()}-user")


def seller_user(seller_id: str) -> Actor:
    """A user of the seller of that id, on every marketplace (grant_cast)."""
    return Actor(kind=ActorKind.SELLER, id=seller_id)


def grant_cast(app: NtdApplication) -> None:
    """On an empty store: the first admin, ALICE and BOB as agents and supervisors, and a user
    for each of SELLERS on each of MARKETPLACES (the brands' reporters come with `register`)."""
    app.name_first_admin(ADMIN)
    for staff in (ALICE, BOB):
        for role in (Role.AGENT, Role.SUPERVISOR):
            app.grant_role(staff, Grant(role=role), ADMIN)
    for staff in (MARIA, BOB):
        app.grant_role(staff, Grant(role=Role.ACCOUNT_MANAGER), ADMIN)
    for seller_id in SELLERS:
        for marketplace in MARKETPLACES:
            key = SellerKey(marketplace=marketplace, seller_ref=seller_id)
            app.grant_role(seller_user(seller_id), Grant(role=Role.SELLER_USER, seller=key), ADMIN)


def new_app(clock: FakeClock, env: dict[str, str] | None = None) -> NtdApplication:
    """The application on a store (fresh unless `env` names one), the cast granted its roles."""
    app = NtdApplication(env, clock=clock)
    grant_cast(app)
    return app


@dataclass
class History:
    """An application with a seeded history, its clock, and the ids it made."""

    app: NtdApplication
    clock: FakeClock
    rng: random.Random
    notifiers: dict[str, tuple[UUID, UUID]] = field(default_factory=dict)
    """name -> (notifier id, verified right id)"""
    case_ids: list[UUID] = field(default_factory=list)
    open_ids: list[UUID] = field(default_factory=list)
    """Cases not yet resolved, the ones worth moving."""
    listings: int = 0
    reporters: dict[UUID, Actor] = field(default_factory=dict)
    """notifier id -> the notifier's user who files and speaks for its notices"""
    soundness: dict[UUID, float] = field(default_factory=dict)
    """notifier id -> how sound the notices it files now are (see `step`)"""
    sound: dict[UUID, float] = field(default_factory=dict)
    """case id -> how sound the notice that opened it was"""
    windows: dict[UUID, datetime] = field(default_factory=dict)
    """case id -> when its open counter-notice window closes"""
    collaboration: bool = True
    """Whether steps may be identification requests and answers, and messages."""

    _memo: dict[str, Any] = field(default_factory=dict)

    def events(self) -> list[tuple[int, DomainEvent]]:
        """Every stored event with its notification id, read straight from the log."""
        if self._memo.get("events_at") != self.last_id():
            notifications = self.app.recorder.select_notifications(start=1, limit=10**9)
            self._memo["events"] = [
                (n.id, cast(DomainEvent, self.app.mapper.to_domain_event(n))) for n in notifications
            ]
            self._memo["events_at"] = self.last_id()
            self._memo["cases"] = {}
        return list(self._memo["events"])

    def case(self, case_id: UUID) -> Case:
        """The case aggregate as it stands now (remembered until the log grows)."""
        self.events()
        cases: dict[UUID, Case] = self._memo["cases"]
        if case_id not in cases:
            cases[case_id] = self.app.case(case_id, ALICE)
        return cases[case_id]

    def seller_of(self, case_id: UUID) -> Actor:
        """The user of the seller of the case's listing (who may counter-notice it)."""
        return seller_user(self.case(case_id).listing.seller_id)

    def last_id(self) -> int:
        """The log's last notification id."""
        return self.app.recorder.max_notification_id() or 0

    # -- making history ------------------------------------------------------------------------

    def register(self, name: str, soundness: float = 0.0) -> UUID:
        """A brand with a verified trademark, filing notices as sound as given (`step`)."""
        notifier_id = self.app.register_notifier(
            name, NotifierKind.BRAND, f"legal@{name.lower()}.example", ALICE
        )
        right_id = self.app.register_right(
            notifier_id, RightType.TRADEMARK, f"TM-{name}", "eu", "c" * 64, ALICE
        )
        self.app.verify_right(notifier_id, right_id, ALICE)
        user = reporter(name)
        self.app.grant_role(user, Grant(role=Role.REPORTER, notifier_id=notifier_id), ADMIN)
        self.notifiers[name] = (notifier_id, right_id)
        self.reporters[notifier_id] = user
        self.soundness[notifier_id] = soundness
        return notifier_id

    def file(self, name: str, listings: int = 1) -> list[UUID]:
        """File a notice by the named brand about fresh (or now and then repeated) listings."""
        notifier_id, right_id = self.notifiers[name]
        chosen = {}
        for _ in range(listings):
            listing = self._listing()
            chosen[(listing["marketplace"], listing["listing_id"])] = listing
        submission = parse_notice(
            {
                "notifier_id": str(notifier_id),
                "right_id": str(right_id),
                "submitted_by": reporter(name).id,
                "listings": list(chosen.values()),
                "reason_code": self.rng.choice(list(ReasonCode)).value,
                "explanation": "The listing sells counterfeit goods bearing our registered mark.",
                "evidence": [{"kind": "test_buy", "reference": "order 4711", "sha256": "e" * 64}],
                "contact": {"name": name, "email": f"legal@{name.lower()}.example"},
                "good_faith_statement": True,
                "accuracy_statement": True,
                "signature": f"/{name}/",
            }
        )
        receipt = self.app.file_notice(submission, reporter(name))
        self.case_ids += receipt.new_case_ids
        self.open_ids += receipt.new_case_ids
        for case_id in receipt.new_case_ids:
            self.sound[case_id] = self.soundness[notifier_id]
            self._track(case_id)  # a trusted-lane takedown opens its window at once
        return receipt.new_case_ids

    def _listing(self) -> dict[str, str]:
        if self.listings and self.rng.random() < 0.1:
            number = self.rng.randint(1, self.listings)  # the same listing noticed again
        else:
            self.listings += 1
            number = self.listings
        marketplace = MARKETPLACES[number % len(MARKETPLACES)]
        return {
            "marketplace": marketplace,
            "listing_id": f"L-{number}",
            "url": f"https://{marketplace}/item/L-{number}",
            "seller_id": SELLERS[(number * 7) % len(SELLERS)],
        }

    def step(self, case_id: UUID) -> None:
        """Move one case by a random allowed step (deadline misses included when due). The
        steps that go against the notifier are left out at the odds of its notice's soundness:
        a sound notice is seldom declined, appealed or reversed."""
        case = self.app.case(case_id, ALICE)
        talk = (
            self._collaboration(case)
            if self.collaboration and self.rng.random() < COLLABORATION
            else []
        )
        if talk:
            with suppress(DomainError):
                self.rng.choice(talk)()
            return
        moves, against = self._moves(case)
        if self.rng.random() >= self.sound.get(case_id, 0.0):
            moves += against
        if moves:
            with suppress(DomainError):  # e.g. a window that closed meanwhile
                self.rng.choice(moves)()
        self._track(case_id)

    def close_windows(self) -> None:
        """Record every counter-notice window that closed unused, as the platform's daily
        deadline sweep does; the other deadlines pass only when a step happens to take them,
        so that they are met in time now and then, and now and then late."""
        now = self.clock.now()
        for case_id, closes in sorted(self.windows.items(), key=lambda item: item[1]):
            if closes <= now:
                self.app.miss_deadline(case_id, Deadline.COUNTER_NOTICE, SYSTEM)
                self._track(case_id)

    def _track(self, case_id: UUID) -> None:
        """Note where a case that moved stands: its counter-notice window, and if resolved."""
        case = self.app.case(case_id, ALICE)
        closes = case.deadlines.get(Deadline.COUNTER_NOTICE)
        if closes is None:
            self.windows.pop(case_id, None)
        else:
            self.windows[case_id] = closes
        if case.is_resolved and case_id in self.open_ids:
            self.open_ids.remove(case_id)

    def _moves(self, case: Case) -> tuple[list[Callable[[], Any]], list[Callable[[], Any]]]:
        """The allowed steps: those that leave the notice standing, and those that go against
        the notifier (a decline, a counter-notice, a reversal, an upheld appeal, a restoration)."""
        app, cid, now = self.app, case.id, self.clock.now()
        seller = seller_user(case.listing.seller_id)
        agent = self.rng.choice((ALICE, BOB))
        notifier_user = self.reporters[case.notifier_id]
        due = [
            kind
            for kind in case.due_deadlines(now)
            if (DEADLINE_STEP[kind], case.state) in TRANSITIONS
        ]
        moves: list[Callable[[], Any]] = [
            partial(app.miss_deadline, cid, kind)
            for kind in due
            if kind is not Deadline.RESTORATION
        ]
        against: list[Callable[[], Any]] = [
            partial(app.miss_deadline, cid, kind) for kind in due if kind is Deadline.RESTORATION
        ]
        window = case.deadlines.get(Deadline.COUNTER_NOTICE)
        if window is not None and now <= window:
            against.append(lambda: app.counter_notice(cid, "It is genuine stock.", True, seller))
        by_state: dict[State, list[Callable[[], Any]]] = {
            State.FILED: [
                lambda: app.request_clarification(cid, "Which mark exactly?", agent),
                lambda: app.take_down(cid, reasons(), agent),
                lambda: app.take_down(cid, reasons(), agent),
                lambda: app.withdraw(cid, "Settled with the seller.", notifier_user),
            ],
            State.AWAITING_CLARIFICATION: [
                lambda: app.provide_clarification(cid, "The word mark ACME.", notifier_user),
                lambda: app.withdraw(cid, "Cannot substantiate.", notifier_user),
            ],
            State.TAKEN_DOWN_PENDING_REVIEW: [lambda: app.confirm_takedown(cid, reasons(), agent)],
            State.COUNTER_NOTICED: [
                lambda: app.forward_to_notifier(cid, agent),
                lambda: self._reject(case, agent),
            ],
            State.FORWARDED: [  # the notifier mostly lets the restoration date come
                lambda: app.report_litigation(cid, "LG Hamburg", "310 O 1/31", notifier_user),
                lambda: None,
                lambda: None,
            ],
            State.IN_LITIGATION: [lambda: self._reject(case, agent)],
            State.APPEAL_REJECTED: [lambda: app.close_case(cid, "Done.", agent)],
        }
        against_by_state: dict[State, list[Callable[[], Any]]] = {
            State.FILED: [lambda: app.decline(cid, reasons(DecisionGround.NOT_ILLEGAL), agent)],
            State.TAKEN_DOWN_PENDING_REVIEW: [
                lambda: app.reverse_takedown(cid, reasons(DecisionGround.NOT_ILLEGAL), agent)
            ],
            State.COUNTER_NOTICED: [lambda: self._uphold(case, agent)],
            State.FORWARDED: [lambda: self._uphold(case, agent)],
        }
        moves += by_state.get(case.state, [])
        against += against_by_state.get(case.state, [])
        return moves, against

    def _collaboration(self, case: Case) -> list[Callable[[], Any]]:
        """Identification requests and their answers, and messages between the notifier's user
        and the staff (a request lapses through the deadlines in `_moves`)."""
        app, cid = self.app, case.id
        agent = self.rng.choice((ALICE, BOB, MARIA))
        notifier_user = self.reporters[case.notifier_id]
        author = self.rng.choice((agent, notifier_user))
        message = partial(app.post_message, cid, "Any news on this listing?", (), author)
        if Deadline.IDENTIFICATION in case.deadlines:
            verdict = self.rng.choice(list(Authenticity))
            basis = "Hologram and stitching checked."
            answer = partial(app.answer_identification, cid, verdict, basis, (), notifier_user)
            return [answer, answer, message]
        if case.state in IDENTIFYING:
            items = (IdentificationItem(kind=ItemKind.LISTING, reference=case.listing.url),)
            request = partial(app.request_identification, cid, "Is it genuine?", items, agent)
            return [request, message]
        return [message] if case.state is not State.CLOSED else []

    def _uphold(self, case: Case, agent: Actor) -> None:
        self.app.uphold_appeal(case.id, reasons(DecisionGround.NOT_ILLEGAL), agent)

    def _reject(self, case: Case, agent: Actor) -> None:
        self.app.reject_appeal(case.id, reasons(), agent)
        try:
            seller_id = self.app.record_strike(  # final: the appeal was rejected
                case.listing.marketplace, case.listing.seller_id, case.id, notice_id=case.notice_id
            )
            if self.rng.random() < 0.3:
                self.app.remove_strike(seller_id, case.id, "Counter-notice succeeded on review.")
            elif self.app.seller(seller_id, ALICE).live_strikes(self.clock.now()) >= 3:
                self.app.suspend_seller(seller_id, "Three live strikes.")
        except DomainError:
            pass


COLLABORATION = 0.3
"""How often a step may also be an identification request or answer, or a message."""
CAREFUL_FROM = 0.2
"""How far into the history Globex starts filing with care."""
SOUNDNESS = 0.9
"""How sound Globex's notices are once it files with care."""


def build_history(
    seed: int, rounds: int = 600, env: dict[str, str] | None = None, collaboration: bool = True
) -> History:
    """A seeded history: three brands (one in and out of the trusted lane, one admitted to it,
    one suspended for a while) filing notices whose cases then move by random allowed steps,
    and the platform closing the counter-notice windows that passed once a day. Globex files
    with care from a fifth of the way on: its later notices are sound, so that its figures
    over the trailing window may qualify it for the trusted lane. Acme and Globex have Maria
    as their account manager until Acme passes to Bob three quarters of the way on; cases see
    identification requests (answered or lapsing) and messages. Without `collaboration`, none
    of that: a history as ntd recorded it before account managers, identification and
    conversations existed."""
    clock = FakeClock()
    history = History(new_app(clock, env), clock, random.Random(seed))
    history.collaboration = collaboration
    rng = history.rng
    for name in ("Acme", "Globex", "Initech"):
        history.register(name)
    acme, globex, initech = (history.notifiers[n][0] for n in ("Acme", "Globex", "Initech"))
    if collaboration:
        history.app.assign_manager(acme, MARIA, ALICE)
        history.app.assign_manager(globex, MARIA, ALICE)
    swept = clock.now().date()
    for round_ in range(rounds):
        clock.advance(minutes=rng.randint(10, 600))
        if clock.now().date() > swept:
            history.close_windows()
            swept = clock.now().date()
        if round_ == int(rounds * CAREFUL_FROM):
            history.soundness[globex] = SOUNDNESS
        if round_ == rounds // 4:
            history.app.admit_to_trusted_lane(acme, 0.95, 0.01, 40)
        elif round_ == rounds // 2:
            history.app.warn_notifier(initech, "Unfounded notices.", 0.4)
            history.app.suspend_notifier(initech, "Unfounded notices after a warning.", days=5)
        elif round_ == (2 * rounds) // 3:
            history.app.admit_to_trusted_lane(globex, 0.92, 0.02, 25)
        elif round_ == (3 * rounds) // 4:
            history.app.remove_from_trusted_lane(acme, "Reversal share above 5 %.")
            if collaboration:
                history.app.assign_manager(acme, BOB, ALICE)  # reassigned: Maria keeps Globex
        if rng.random() < 0.3 or not history.open_ids:
            name = rng.choice(("Acme", "Acme", "Globex", "Initech"))
            with suppress(DomainError):  # the suspended brand is refused
                history.file(name, listings=rng.choice((1, 1, 1, 2, 4)))
        else:
            history.step(rng.choice(history.open_ids))
    return history


# -- adapters ----------------------------------------------------------------------------------


def postgres_or_skip() -> str:
    """The test PostgreSQL URL, or skip the test saying why."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=2).close()
    except psycopg2.OperationalError as error:
        reason = " ".join(str(error).split())
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} ({reason})")
    return POSTGRES_URL


@dataclass
class Adapter:
    """One ReadStore adapter under test, with raw access for tampering with its audit trail."""

    kind: str
    url: str
    schema: str = "public"
    """PostgreSQL only: the schema the store's tables live in (tests may share a database)."""

    def open(self) -> ReadStore:
        """A fresh, empty store."""
        if self.kind == "postgresql":
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
        store = open_read_store(self.store_url)
        store.reset()
        return store

    def discard(self) -> None:
        """Drop what the store left behind where it outlives the test (PostgreSQL's schema)."""
        if self.kind == "postgresql":
            self.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    @property
    def store_url(self) -> str:
        """The URL the store is opened with."""
        if self.kind == "postgresql":
            joiner = "&" if "?" in self.url else "?"
            return f"{self.url}{joiner}options=-csearch_path%3D{self.schema}"
        return self.url

    def execute(self, statement: str, params: tuple[Any, ...] = ()) -> None:
        """Run raw SQL on the store's database, behind the adapter's back."""
        if self.kind == "sqlite":
            with sqlite3.connect(self.url.removeprefix("sqlite://")) as conn:
                conn.execute(statement, params)
            conn.close()
        else:
            import psycopg2

            with psycopg2.connect(self.url) as conn, conn.cursor() as cur:
                cur.execute(f"SET search_path TO {self.schema}")
                cur.execute(statement.replace("?", "%s"), params)
            conn.close()

    def edit_payload(self, store: ReadStore, seq: int, payload: str) -> None:
        """Change one audit row's payload in place."""
        if isinstance(store, MemoryReadStore):
            rows = store.audit_records
            index = next(i for i, r in enumerate(rows) if r.seq == seq)
            rows[index] = rows[index]._replace(payload=payload)
        else:
            self.execute("UPDATE read_audit SET payload = ? WHERE seq = ?", (payload, seq))

    def delete_row(self, store: ReadStore, seq: int) -> None:
        """Delete one audit row."""
        if isinstance(store, MemoryReadStore):
            store.audit_records[:] = [r for r in store.audit_records if r.seq != seq]
        else:
            self.execute("DELETE FROM read_audit WHERE seq = ?", (seq,))

    def insert_row(self, store: ReadStore, record: AuditRecord) -> None:
        """Insert a forged audit row."""
        if isinstance(store, MemoryReadStore):
            store.audit_records.append(record)
            store.audit_records.sort(key=lambda r: r.seq)
        else:
            marks = ", ".join("?" * len(record))
            self.execute(f"INSERT INTO read_audit VALUES ({marks})", tuple(record))


def adapter_for(kind: str, tmp_path: Path) -> Adapter:
    """The adapter of a kind, in a fresh place (PostgreSQL: a schema of its own, so that test
    runs sharing the database do not meet)."""
    if kind == "memory":
        return Adapter(kind, "memory:")
    if kind == "sqlite":
        return Adapter(kind, f"sqlite://{tmp_path / 'data' / 'read.db'}")
    return Adapter(kind, postgres_or_skip(), f"ntd_test_{os.getpid()}_{next(_SCHEMAS)}")


_SCHEMAS = itertools.count(1)


ADAPTERS = (
    "memory",
    pytest.param("sqlite", marks=pytest.mark.sqlite),
    pytest.param("postgresql", marks=pytest.mark.integration),
)
"""Each store adapter a contract test runs on; only the memory one is in the fast tier."""


def opened(adapter: Adapter) -> Iterator[ReadStore]:
    """Open a fresh store for a fixture; close and discard it afterwards."""
    store = adapter.open()
    try:
        yield store
    finally:
        store.close()
        adapter.discard()
