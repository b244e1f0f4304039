"""Helpers for the domain's unit tests: a settable clock, valid notices, ready applications."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from domain.access import Grant, SellerKey
from domain.application import FilingReceipt, NtdApplication
from domain.calendar import BusinessCalendar
from domain.case import Case, Deadline, State
from domain.notice import NoticeSubmission, parse_notice
from domain.notifier import NotifierKind
from domain.rules import Rules
from domain.values import (
    Actor,
    ActorKind,
    AutomatedDecision,
    DecisionGround,
    RightType,
    Role,
    StatementOfReasons,
    Visibility,
)

MONDAY = datetime(2031, 3, 3, 10, 30, tzinfo=UTC)
"""Far from the host's clock, so a timestamp taken from the host would stand out."""

AGENT = Actor(kind=ActorKind.AGENT, id="alice")
"""Platform staff holding the agent and supervisor roles (make_app grants them)."""
BRAND_USER = Actor(kind=ActorKind.NOTIFIER_USER, id="bob")
"""The reporter of every brand register_brand registers."""
SELLER = Actor(kind=ActorKind.SELLER, id="seller-1")
"""A user of the seller of every listing listing_data makes (shop.example/seller-1)."""
ADMIN = Actor(kind=ActorKind.AGENT, id="root")
"""The store's first admin."""
AUDITOR = Actor(kind=ActorKind.AGENT, id="audrey")
"""Platform staff holding the auditor role only."""

CERTIFICATE = "c" * 64
EVIDENCE_HASH = "e" * 64


class FakeClock:
    """A clock that only moves when told to; remembers every reading it gave."""

    def __init__(self, start: datetime = MONDAY) -> None:
        self.moment = start
        self.readings: list[datetime] = []

    def now(self) -> datetime:
        self.readings.append(self.moment)
        return self.moment

    def advance(self, days: float = 0, **delta: float) -> datetime:
        """Move forward by calendar time, e.g. `advance(3)` or `advance(hours=2)`."""
        self.moment += timedelta(days=days, **delta)
        return self.moment

    def set(self, moment: datetime) -> None:
        """Jump to a moment (forward or back)."""
        self.moment = moment


def reasons(**overrides: Any) -> StatementOfReasons:
    """A reviewer's statement of reasons (not automated unless overridden)."""
    fields: dict[str, Any] = {
        "ground": DecisionGround.ILLEGAL_CONTENT,
        "legal_ground": "EU trademark regulation 2017/1001, art. 9",
        "facts": "The test buy showed a counterfeit of the registered mark.",
        "visibility": (Visibility.CONTENT_REMOVED,),
    }
    return StatementOfReasons(**{**fields, **overrides})


AUTOMATED = reasons(automated_decision=AutomatedDecision.FULLY)


def listing_data(listing_id: str = "L-1", **overrides: Any) -> dict[str, Any]:
    """One listing as a notifier would send it."""
    data = {
        "marketplace": "shop.example",
        "listing_id": listing_id,
        "url": f"https://shop.example/item/{listing_id}",
        "seller_id": "seller-1",
    }
    return {**data, **overrides}


def notice_data(
    notifier_id: UUID | str = "00000000-0000-0000-0000-000000000001",
    right_id: UUID | str = "00000000-0000-0000-0000-000000000002",
    listings: int | list[dict[str, Any]] = 1,
    **overrides: Any,
) -> dict[str, Any]:
    """A complete, valid notice as raw JSON-like data; override or drop any element."""
    if isinstance(listings, int):
        listings = [listing_data(f"L-{n}") for n in range(1, listings + 1)]
    data: dict[str, Any] = {
        "notifier_id": str(notifier_id),
        "right_id": str(right_id),
        "submitted_by": BRAND_USER.id,
        "listings": listings,
        "reason_code": "counterfeit",
        "explanation": "The listing sells counterfeit goods bearing our registered mark.",
        "evidence": [
            {"kind": "test_buy", "reference": "order 4711", "sha256": EVIDENCE_HASH},
        ],
        "contact": {"name": "Acme Legal", "email": "legal@acme.example"},
        "good_faith_statement": True,
        "accuracy_statement": True,
        "signature": "/Bob Example/",
    }
    return {**data, **overrides}


def without(data: Mapping[str, Any], *path: str | int) -> dict[str, Any]:
    """A deep copy of notice data with the element at `path` removed."""
    copy = _deep_copy(data)
    holder: Any = copy
    for part in path[:-1]:
        holder = holder[part]
    del holder[path[-1]]
    return copy


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


class Backend:
    """Which event store `make_app` gives a test: a SQLite file by default; in memory
    (eventsourcing.popo) in the fast tier (`--fast`, tests/conftest.py); PostgreSQL when
    tests/integration re-runs the domain tests (its `on_postgres` fixture)."""

    kind = "sqlite"
    postgres_dsn = ""
    schemas: list[str] = []

    @classmethod
    def fresh_env(cls) -> dict[str, str]:
        """The environment of a new, empty event store of the current kind."""
        if cls.kind == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if cls.kind == "postgres":
            return cls._postgres()
        folder = tempfile.mkdtemp(prefix="ntd-unit-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        path = Path(folder) / "events.db"
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}

    @classmethod
    def _postgres(cls) -> dict[str, str]:
        import psycopg2

        schema = "u" + uuid4().hex[:12]
        with psycopg2.connect(cls.postgres_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {schema}")
        connection.close()
        cls.schemas.append(schema)
        from ntd.config import Settings  # the production store's settings, write path included

        settings = Settings(Path("."), "postgres", cls.postgres_dsn, schema)
        return settings.eventsourcing_env() | {"POSTGRES_POOL_SIZE": "2"}


def make_app(
    clock: FakeClock | None = None,
    env: dict[str, str] | None = None,
    calendar: BusinessCalendar | None = None,
    rules: Rules | None = None,
    cast: bool = True,
) -> NtdApplication:
    """The real application on a fresh store of the current Backend, unless `env` names one;
    on an empty store, with the tests' cast granted its roles (unless `cast=False`)."""
    env = env if env is not None else Backend.fresh_env()
    app = NtdApplication(env, clock=clock or FakeClock(), calendar=calendar, rules=rules)
    if cast and log_size(app) == 0:
        grant_cast(app)
    return app


def grant_cast(app: NtdApplication) -> None:
    """The first admin, AGENT as agent and supervisor, AUDITOR as auditor, SELLER as a user of
    the seller of listing_data's listings."""
    app.name_first_admin(ADMIN)
    for role in (Role.AGENT, Role.SUPERVISOR):
        app.grant_role(AGENT, Grant(role=role), ADMIN)
    app.grant_role(AUDITOR, Grant(role=Role.AUDITOR), ADMIN)
    seller = SellerKey(marketplace="shop.example", seller_ref="seller-1")
    app.grant_role(SELLER, Grant(role=Role.SELLER_USER, seller=seller), ADMIN)


def grant_reporter(app: NtdApplication, notifier_id: UUID, user: Actor = BRAND_USER) -> None:
    """Make `user` a reporter of the notifier."""
    app.grant_role(user, Grant(role=Role.REPORTER, notifier_id=notifier_id), ADMIN)


def log_size(app: NtdApplication) -> int:
    """How many events the application has stored so far (its notification log's length)."""
    return app.recorder.max_notification_id() or 0


@dataclass
class Desk:
    """An application with its clock and one registered brand holding a verified right."""

    app: NtdApplication
    clock: FakeClock
    notifier_id: UUID
    right_id: UUID
    listings_filed: int = field(default=0)

    def notice(self, *listing_ids: str, **overrides: Any) -> NoticeSubmission:
        """A valid submission by this desk's brand about the given (or a fresh) listing."""
        if not listing_ids:
            self.listings_filed += 1
            listing_ids = (f"L-auto-{self.listings_filed}",)
        listings = [listing_data(listing_id) for listing_id in listing_ids]
        data = notice_data(self.notifier_id, self.right_id, listings, **overrides)
        return parse_notice(data)

    def file(self, *listing_ids: str, **overrides: Any) -> FilingReceipt:
        """File a notice about the given listings."""
        return self.app.file_notice(self.notice(*listing_ids, **overrides), BRAND_USER)

    def file_one(self, *listing_ids: str, **overrides: Any) -> UUID:
        """File a notice about one listing and return its case id."""
        return self.file(*listing_ids, **overrides).cases[0].case_id

    def case(self, case_id: UUID) -> Case:
        """The case as stored now."""
        return self.app.case(case_id, AGENT)

    def trust(self) -> None:
        """Admit this desk's brand to the trusted (Good Faith Takedown) lane."""
        self.app.admit_to_trusted_lane(self.notifier_id, 0.95, 0.01, 40)


def register_brand(
    app: NtdApplication, name: str = "Acme", verified: bool = True
) -> tuple[UUID, UUID]:
    """Register a brand and one trademark (verified unless told otherwise)."""
    notifier_id = app.register_notifier(name, NotifierKind.BRAND, "legal@acme.example", AGENT)
    right_id = app.register_right(
        notifier_id, RightType.TRADEMARK, f"TM-{name}", "eu", CERTIFICATE, AGENT
    )
    if verified:
        app.verify_right(notifier_id, right_id, AGENT)
    grant_reporter(app, notifier_id)
    return notifier_id, right_id


def make_desk(
    clock: FakeClock | None = None,
    env: dict[str, str] | None = None,
    calendar: BusinessCalendar | None = None,
    rules: Rules | None = None,
    trusted: bool = False,
) -> Desk:
    """An application with a brand ready to file (in the trusted lane if asked)."""
    clock = clock or FakeClock()
    app = make_app(clock, env, calendar, rules)
    notifier_id, right_id = register_brand(app)
    desk = Desk(app, clock, notifier_id, right_id)
    if trusted:
        desk.trust()
    return desk


LONG_AFTER = 30
"""Calendar days that outlast every deadline (the longest is 10 business days)."""


# -- reaching every state through real commands -------------------------------------------------


def _taken_down(desk: Desk) -> UUID:
    case_id = desk.file_one()
    desk.app.take_down(case_id, reasons(), AGENT)
    return case_id


def _counter_noticed(desk: Desk) -> UUID:
    case_id = _taken_down(desk)
    desk.app.counter_notice(case_id, "I bought the goods from the brand.", True, SELLER)
    return case_id


def _forwarded(desk: Desk) -> UUID:
    case_id = _counter_noticed(desk)
    desk.app.forward_to_notifier(case_id, AGENT)
    return case_id


def _awaiting_clarification(desk: Desk) -> UUID:
    case_id = desk.file_one()
    desk.app.request_clarification(case_id, "Which of your marks is infringed?", AGENT)
    return case_id


def _pending_review(desk: Desk) -> UUID:
    desk.trust()
    return desk.file_one()


def _then(
    first: Callable[[Desk], UUID], step: Callable[[Desk, UUID], Any]
) -> Callable[[Desk], UUID]:
    def reach(desk: Desk) -> UUID:
        case_id = first(desk)
        step(desk, case_id)
        return case_id

    return reach


def _lapse(desk: Desk, case_id: UUID) -> None:
    desk.clock.advance(LONG_AFTER)
    desk.app.miss_deadline(case_id, Deadline.CLARIFICATION)


REACH: dict[State, Callable[[Desk], UUID]] = {
    State.FILED: lambda desk: desk.file_one(),
    State.AWAITING_CLARIFICATION: _awaiting_clarification,
    State.TAKEN_DOWN_PENDING_REVIEW: _pending_review,
    State.TAKEN_DOWN: _taken_down,
    State.DECLINED: _then(
        lambda desk: desk.file_one(), lambda d, c: d.app.decline(c, reasons(), AGENT)
    ),
    State.COUNTER_NOTICED: _counter_noticed,
    State.FORWARDED: _forwarded,
    State.IN_LITIGATION: _then(
        _forwarded, lambda d, c: d.app.report_litigation(c, "LG Hamburg", "312 O 1/31", BRAND_USER)
    ),
    State.REINSTATED: _then(_forwarded, lambda d, c: d.app.uphold_appeal(c, reasons(), AGENT)),
    State.APPEAL_REJECTED: _then(
        _counter_noticed, lambda d, c: d.app.reject_appeal(c, reasons(), AGENT)
    ),
    State.WITHDRAWN: _then(
        lambda desk: desk.file_one(), lambda d, c: d.app.withdraw(c, "Settled.", BRAND_USER)
    ),
    State.LAPSED: _then(_awaiting_clarification, _lapse),
    State.CLOSED: _then(
        lambda desk: desk.file_one(), lambda d, c: d.app.close_case(c, "Done.", AGENT)
    ),
}


def reach(desk: Desk, state: State) -> UUID:
    """A case in the given state, brought there by commands only."""
    case_id = REACH[state](desk)
    assert desk.case(case_id).state is state
    return case_id
