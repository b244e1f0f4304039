"""A seeded generator of mixed case lifecycles, driven through the real application."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from domain.application import NtdApplication
from domain.case import Deadline
from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.values import Actor, DecisionGround, RightType, StatementOfReasons, Visibility
from ntd.bootstrap import FixedClock

AGENT = Actor.parse("agent:it")
REASONS = StatementOfReasons(
    ground=DecisionGround.ILLEGAL_CONTENT,
    legal_ground="KEYWORD_TRADEMARK_INFRINGEMENT",
    facts="Test buy shows a counterfeit hologram.",
    visibility=(Visibility.CONTENT_REMOVED,),
)
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


def notice(notifier: UUID, right: UUID, listings: list[str], seed: int) -> dict[str, object]:
    """A valid notice naming the given listing ids."""
    return {
        "notifier_id": str(notifier),
        "right_id": str(right),
        "submitted_by": "brand-user",
        "listings": [
            {
                "marketplace": "mk",
                "listing_id": lid,
                "url": f"https://mk.example/{lid}",
                "seller_id": f"seller-{seed % 37}",
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


def brand(app: NtdApplication, name: str) -> tuple[UUID, UUID]:
    """A notifier with one verified trademark."""
    notifier = app.register_notifier(name, NotifierKind.BRAND, "legal@brand.example", AGENT)
    right = app.register_right(notifier, RightType.TRADEMARK, f"TM-{name}", "EU", "cd" * 32, AGENT)
    app.verify_right(notifier, right, AGENT)
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
        receipt = app.file_notice(parse_notice(notice(notifier, right, listings, n)))
        ids += [c.case_id for c in receipt.cases]
        clock.set(clock.now() + timedelta(minutes=7))
    for case_id in ids:
        walk(app, clock, case_id, rng)
    return ids


def walk(app: NtdApplication, clock: FixedClock, case_id: UUID, rng: random.Random) -> None:
    """One random path through the table."""
    case = app.case(case_id)
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
        app.withdraw(case_id, "settled with the seller", Actor.parse("notifier_user:u"))
        return
    if roll < 0.25:
        app.request_clarification(case_id, "Which size was the test buy?", AGENT)
        app.provide_clarification(case_id, "Size 42.", Actor.parse("notifier_user:u"))
    app.take_down(case_id, REASONS, AGENT)
    if rng.random() < 0.3:
        seller = Actor.parse("seller:s")
        app.counter_notice(case_id, "Genuine stock, invoice attached.", True, seller)
        app.forward_to_notifier(case_id, AGENT)
        outcome = rng.random()
        if outcome < 0.3:
            app.report_litigation(
                case_id, "Court of Milan", "RG 123/2026", Actor.parse("notifier_user:u")
            )
        elif outcome < 0.6:
            saved = clock.now()
            clock.set(saved + timedelta(days=20))
            app.miss_deadline(case_id, Deadline.RESTORATION)
            clock.set(saved)
        elif outcome < 0.8:
            app.uphold_appeal(case_id, REASONS, AGENT)
        else:
            app.reject_appeal(case_id, REASONS, AGENT)
