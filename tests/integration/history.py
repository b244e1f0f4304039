"""A seeded generator of mixed case lifecycles, driven through the real application."""

from __future__ import annotations

import random
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.access import AccessError, Grant, SellerKey
from domain.application import NtdApplication
from domain.case import Authenticity, Deadline, IdentificationItem, ItemKind
from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.values import Actor, DecisionGround, RightType, Role, StatementOfReasons, Visibility
from ntd.bootstrap import FixedClock

ADMIN = Actor.parse("agent:root")
"""The store's first admin, who grants the others their roles."""
AGENT = Actor.parse("agent:it")
"""Platform staff deciding cases: agent and supervisor (grant_cast)."""
USER = Actor.parse("notifier_user:brand-user")
"""The reporter of every brand `brand` registers, who files their notices."""
MARKETPLACE = "mk"
REASONS = StatementOfReasons(
    ground=DecisionGround.ILLEGAL_CONTENT,
    legal_ground="KEYWORD_TRADEMARK_INFRINGEMENT",
    facts="Test buy shows a counterfeit hologram.",
    visibility=(Visibility.CONTENT_REMOVED,),
)
START = datetime(2026, 3, 2, 9, tzinfo=UTC)
MANAGER = Actor.parse("agent:am")
"""The account manager of every brand of the history."""


def notice(notifier: UUID, right: UUID, listings: list[str], seed: int) -> dict[str, object]:
    """A valid notice naming the given listing ids."""
    return {
        "notifier_id": str(notifier),
        "right_id": str(right),
        "submitted_by": USER.id,
        "listings": [
            {
                "marketplace": MARKETPLACE,
                "listing_id": lid,
                "url": f"https://mk.example/{lid}",
                "seller_id": seller_ref(seed),
            }
            for lid in listings
        ],
        "reason_code": "counterfeit",
        "explanation": "Test buy order shows counterfeit stitching and hologram.",
        "evidence": [{"kind": "test_buy", "reference": f"order {seed}", "sha256": "ab" * 32}],
        "contact": {"name": "Brand Legal", "email": "legal@brand.example"},
        "good_faith_statement": True,
        "accuracy_statement": True,
        "signature": "Brand Legal",
    }


def seller_ref(seed: int) -> str:
    """The seller of the listings of the notice made with `seed`."""
    return f"seller-{seed % 37}"


def seller_user(seller: str) -> Actor:
    """A user of the seller (on MARKETPLACE), once `grant_seller_user` made it one."""
    return Actor.parse(f"seller:{seller}")


def grant_cast(app: NtdApplication) -> None:
    """The first admin and AGENT as agent and supervisor, unless the store has them already."""
    with suppress(AccessError):  # the store has its first admin
        app.name_first_admin(ADMIN)
    for role in (Role.AGENT, Role.SUPERVISOR):
        with suppress(AccessError):  # already held
            app.grant_role(AGENT, Grant(role=role), ADMIN)
    with suppress(AccessError):
        app.grant_role(MANAGER, Grant(role=Role.ACCOUNT_MANAGER), ADMIN)


def grant_seller_user(app: NtdApplication, seller: str) -> None:
    """Make seller_user(seller) a user of the seller, unless it is one already."""
    key = SellerKey(marketplace=MARKETPLACE, seller_ref=seller)
    with suppress(AccessError):  # already held
        app.grant_role(seller_user(seller), Grant(role=Role.SELLER_USER, seller=key), ADMIN)


def brand(app: NtdApplication, name: str) -> tuple[UUID, UUID]:
    """A notifier with one verified trademark, USER its reporter (the cast granted first)."""
    grant_cast(app)
    notifier = app.register_notifier(name, NotifierKind.BRAND, "legal@brand.example", AGENT)
    right = app.register_right(notifier, RightType.TRADEMARK, f"TM-{name}", "EU", "cd" * 32, AGENT)
    app.verify_right(notifier, right, AGENT)
    app.grant_role(USER, Grant(role=Role.REPORTER, notifier_id=notifier), ADMIN)
    app.assign_manager(notifier, MANAGER, AGENT)
    return notifier, right


def make_history(app: NtdApplication, clock: FixedClock, cases: int, seed: int = 7) -> list[UUID]:
    """File `cases` listings in notices of ten and walk each through a random lifecycle."""
    rng = random.Random(seed)
    clock.set(START)
    normal = brand(app, f"Normal{seed}")
    trusted = brand(app, f"Trusted{seed}")
    app.admit_to_trusted_lane(trusted[0], 0.95, 0.01, 40)
    ids: list[UUID] = []
    for n in range(0, cases, 10):
        notifier, right = trusted if n % 50 == 0 else normal
        listings = [f"L{seed}-{n + i}" for i in range(min(10, cases - n))]
        grant_seller_user(app, seller_ref(n))
        receipt = app.file_notice(parse_notice(notice(notifier, right, listings, n)), USER)
        ids += [c.case_id for c in receipt.cases]
        clock.set(clock.now() + timedelta(minutes=7))
    for case_id in ids:
        walk(app, clock, case_id, rng)
    return ids


def walk(app: NtdApplication, clock: FixedClock, case_id: UUID, rng: random.Random) -> None:
    """One random path through the table."""
    case = app.case(case_id, AGENT)
    if case.state.value == "taken_down_pending_review":
        (app.confirm_takedown if rng.random() < 0.8 else app.reverse_takedown)(
            case_id, REASONS, AGENT
        )
        return
    roll = rng.random()
    if roll < 0.1:
        app.decline(case_id, REASONS, AGENT)
        return
    if roll < 0.15:
        app.withdraw(case_id, "settled with the seller", USER)
        return
    if roll < 0.25:
        app.request_clarification(case_id, "Which size was the test buy?", AGENT)
        app.provide_clarification(case_id, "Size 42.", USER)
    collaborate(app, clock, case_id, rng)
    app.take_down(case_id, REASONS, AGENT, despite_genuine=True)
    if rng.random() < 0.3:
        seller = seller_user(case.listing.seller_id)
        app.counter_notice(case_id, "Genuine stock, invoice attached.", True, seller)
        app.forward_to_notifier(case_id, AGENT)
        outcome = rng.random()
        if outcome < 0.3:
            app.report_litigation(case_id, "Court of Milan", "RG 123/2026", USER)
        elif outcome < 0.6:  # time only moves on: no aggregate records an earlier event
            clock.set(clock.now() + timedelta(days=20))
            app.miss_deadline(case_id, Deadline.RESTORATION)
        elif outcome < 0.8:
            app.uphold_appeal(case_id, REASONS, AGENT)
        else:
            app.reject_appeal(case_id, REASONS, AGENT, despite_genuine=True)


def collaborate(app: NtdApplication, clock: FixedClock, case_id: UUID, rng: random.Random) -> None:
    """The Joint-Force steps before a decision: a conversation, and an identification the
    brand answers or lets lapse."""
    if rng.random() < 0.2:
        app.post_message(case_id, "Two more test buys from this seller.", (), USER)
        app.post_message(case_id, "Thanks, please attach them by hash.", (), MANAGER)
    roll = rng.random()
    if roll < 0.3:
        item = IdentificationItem(kind=ItemKind.LISTING, reference=f"listing of {case_id}")
        app.request_identification(case_id, "Genuine or counterfeit?", (item,), AGENT)
        if roll < 0.2:
            verdict = Authenticity.COUNTERFEIT if roll < 0.15 else Authenticity.GENUINE
            app.answer_identification(case_id, verdict, "Checked the photos.", (), USER)
        else:
            clock.set(clock.now() + timedelta(days=10))
            app.miss_deadline(case_id, Deadline.IDENTIFICATION)
