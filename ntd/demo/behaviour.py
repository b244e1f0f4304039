"""The behaviour model: what notifiers, agents and sellers do with each notice and case, and
with what odds, every step through the application API.

A notice is filed at the moment its plan says; each case it opens gets a random stream of its
own (seeded by the run's seed and the case id), so what happens to one case does not shift what
happens to any other. Whether a case is about a real infringement is drawn when it opens, from
the brand's care and the seller's kind; agents, sellers and notifiers then act on it in working
hours, each step queued on the schedule and skipped if the case has moved on meanwhile.
"""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta
from uuid import UUID

from domain.access import Grant, SellerKey
from domain.application import NtdApplication
from domain.case import Authenticity, Case, Deadline, IdentificationItem, ItemKind, Lane, State
from domain.filing import FilingReceipt
from domain.notice import NoticeRefused, NoticeSubmission
from domain.values import SYSTEM, Actor, ActorKind, RightType, Role
from ntd import reasons
from ntd.bootstrap import FixedClock
from ntd.demo.cast import (
    ADMIN,
    AGENT_REPLIES,
    AGENTS,
    BRAND_MESSAGES,
    BULK_FILER,
    CONFIRM_FACTS,
    COUNTER_STATEMENTS,
    COUNTERFEIT_BASIS,
    DECLINE_FACTS,
    GENUINE_BASIS,
    IDENTIFY_QUESTIONS,
    QUESTIONS,
    REASON_FOR,
    REJECT_FACTS,
    REVERSE_FACTS,
    TAKEDOWN_FACTS,
    UPHOLD_FACTS,
    Brand,
    NoticePlan,
    Seller,
    SimCase,
)
from ntd.demo.schedule import Schedule


class Behaviour(Schedule):
    """How the cast acts on notices and cases; the Simulation (simulation.py) adds the cast, the
    plan, the main loop and the firing of deadlines."""

    def __init__(self, app: NtdApplication, clock: FixedClock, *, seed: int) -> None:
        super().__init__(app, clock)
        self.seed = seed
        self.cases: dict[UUID, SimCase] = {}
        self.notices = self.refused = 0
        self.seller_users: dict[tuple[str, str], Actor] = {}

    def _seller_user(self, seller: Seller) -> Actor:
        """The seller's user, given its role the first time the seller acts in ntd."""
        key = (seller.marketplace, seller.ref)
        if key not in self.seller_users:
            user = Actor(kind=ActorKind.SELLER, id=f"{seller.ref}@{seller.marketplace}")
            where = SellerKey(marketplace=seller.marketplace, seller_ref=seller.ref)
            self.app.grant_role(user, Grant(role=Role.SELLER_USER, seller=where), ADMIN)
            self.seller_users[key] = user
        return self.seller_users[key]

    # -- filing ------------------------------------------------------------------------------

    def _file(self, p: NoticePlan) -> None:
        brand = p.brand
        right_id, right_type = brand.rights[p.right_index % len(brand.rights)]
        codes = REASON_FOR[right_type]
        user = brand.users[0] if len(p.listings) < 50 else BULK_FILER.id
        spec = brand.spec
        submission = NoticeSubmission.model_validate(
            {
                "notice_id": p.notice_id,
                "notifier_id": brand.notifier_id,
                "right_id": right_id,
                "submitted_by": user,
                "listings": [
                    {
                        "marketplace": s.marketplace,
                        "listing_id": listing,
                        "url": f"https://{s.marketplace}.example/item/{listing}",
                        "seller_id": s.ref,
                    }
                    for s, listing in p.listings
                ],
                "reason_code": codes[int(p.reason_pick * len(codes))],
                "explanation": (
                    f"Test purchase {p.order} and listing review show goods that use "
                    f"{spec.name}'s registered {right_type.value.replace('_', ' ')} "
                    "without authorisation."
                ),
                "evidence": [
                    {
                        "kind": "test_buy",
                        "reference": f"order {p.order}",
                        "sha256": hashlib.sha256(f"order|{p.order}".encode()).hexdigest(),
                    },
                    {
                        "kind": "photo",
                        "reference": f"photos/{p.order}.zip",
                        "sha256": hashlib.sha256(f"photos|{p.order}".encode()).hexdigest(),
                    },
                ],
                "contact": {"name": spec.contact, "email": f"legal@{spec.domain}"},
                "good_faith_statement": True,
                "accuracy_statement": True,
                "signature": f"/s/ {spec.contact}",
                "automated_detection": len(p.listings) >= 50,
            }
        )
        try:
            filed = self.app.file_notice(
                submission, Actor(kind=ActorKind.NOTIFIER_USER, id=submission.submitted_by)
            )
        except NoticeRefused:
            self.refused += 1
            return
        self.notices += 1
        self._opened(p, filed, right_type)

    def _opened(self, p: NoticePlan, receipt: FilingReceipt, right_type: RightType) -> None:
        sellers = {listing: seller for seller, listing in p.listings}
        for filed in receipt.cases:
            if filed.already_open or filed.case_id in self.cases:
                continue
            rng = random.Random(f"{self.seed}:{filed.case_id}")
            seller = sellers[filed.listing_id]
            sc = SimCase(
                filed.case_id,
                p.brand,
                seller,
                right_type,
                p.order,
                rng,
                rng.random() < self._truth(p.brand, seller),
                self.now,
                lane=receipt.lane,
                bulk=len(p.listings) >= 50,
            )
            self.cases[sc.case_id] = sc
            p.brand.cases.append(sc)
            if receipt.lane is Lane.TRUSTED:
                p.brand.first_trusted_at = p.brand.first_trusted_at or self.now
                sc.taken_down = True
                sc.path.append("taken_down")
                self._sync(sc, self.app.case(sc.case_id, SYSTEM))
                self._after_takedown(sc)
                if rng.random() < 0.93:
                    self.at(self.work_after(rng.lognormvariate(1.6, 0.7)), self._review, sc)
            else:
                if rng.random() < 0.015:
                    self.at(
                        self.work_after(rng.uniform(1, 6)),
                        self._withdraw,
                        sc,
                        "Settled with the seller directly.",
                    )
                self.at(self.work_after(rng.lognormvariate(1.7, 1.0)), self._decide, sc)
                if rng.random() < 0.04:
                    self.at(self.work_after(rng.uniform(1, 24)), self._converse, sc)

    def _truth(self, brand: Brand, seller: Seller) -> float:
        quality = brand.spec.quality
        if (
            brand.spec.role == "slipping"
            and brand.first_trusted_at is not None
            and (self.now - brand.first_trusted_at > timedelta(weeks=1))
        ):
            quality = 0.7
        if seller.kind == "repeat":
            return min(0.99, quality + 0.05)
        if seller.kind == "reseller":
            return quality * 0.45
        return quality

    # -- case steps --------------------------------------------------------------------------

    def _sync(self, sc: SimCase, case: Case) -> None:
        """Mirror the case's state and open deadlines (the Simulation also queues their firing)."""
        sc.state = case.state
        sc.deadlines = dict(case.deadlines)

    def _agent(self, sc: SimCase) -> Actor:
        return sc.rng.choice(AGENTS)

    def _facts(self, sc: SimCase, templates: tuple[str, ...] | str) -> str:
        text = templates if isinstance(templates, str) else sc.rng.choice(templates)
        return text.format(brand=sc.brand.spec.name, order=sc.order)

    def _decide(self, sc: SimCase) -> None:
        if sc.state is not State.FILED:
            return
        rng, app = sc.rng, self.app
        clarify = 0.2 if sc.brand.spec.role == "sloppy" else 0.05
        if "clarified" not in sc.path and rng.random() < clarify:
            sc.path.append("clarification")
            self._sync(
                sc, app.request_clarification(sc.case_id, rng.choice(QUESTIONS), self._agent(sc))
            )
            if rng.random() < 0.65:
                self.at(self.work_after(rng.uniform(2, 40)), self._clarify, sc)
            return
        if "identification" not in sc.path and rng.random() < 0.06:
            self._request_identification(sc)
            return
        take = rng.random() < (0.97 if sc.infringing else 0.3)
        if sc.identified is Authenticity.GENUINE:
            take = False  # the brand itself says the goods are genuine
        elif sc.identified is Authenticity.COUNTERFEIT:
            take = True
        if take:
            facts = self._facts(sc, TAKEDOWN_FACTS)
            self._sync(
                sc,
                app.take_down(
                    sc.case_id, reasons.statement(sc.right_type, True, facts), self._agent(sc)
                ),
            )
            sc.taken_down = True
            sc.path.append("taken_down")
            self._after_takedown(sc)
        else:
            facts = self._facts(sc, DECLINE_FACTS)
            self._sync(
                sc,
                app.decline(
                    sc.case_id, reasons.statement(sc.right_type, False, facts), self._agent(sc)
                ),
            )
            sc.path.append("declined")

    def _request_identification(self, sc: SimCase) -> None:
        """The agent asks the brand whether the listing's goods are genuine; the brand answers
        (or lets the request lapse), and the agent decides on the answer."""
        rng = sc.rng
        sc.path.append("identification")
        photos = hashlib.sha256(f"photos|{sc.order}".encode()).hexdigest()
        items = (
            IdentificationItem(kind=ItemKind.LISTING, reference=f"listing of case {sc.case_id}"),
            IdentificationItem(
                kind=ItemKind.PHOTO, reference=f"photos/{sc.order}.zip", sha256=photos
            ),
        )
        question = self._facts(sc, IDENTIFY_QUESTIONS)
        self._sync(
            sc, self.app.request_identification(sc.case_id, question, items, self._agent(sc))
        )
        if rng.random() < 0.85:
            self.at(self.work_after(rng.uniform(2, 30)), self._identify, sc)
        # else the request lapses at its deadline and the agent decides without an answer

    def _identify(self, sc: SimCase) -> None:
        if Deadline.IDENTIFICATION not in sc.deadlines:
            return
        rng = sc.rng
        if rng.random() < 0.08:
            verdict, basis = Authenticity.CANNOT_TELL, "The photos do not show the serial tag."
        elif sc.infringing:
            verdict, basis = Authenticity.COUNTERFEIT, self._facts(sc, COUNTERFEIT_BASIS)
        else:
            verdict, basis = Authenticity.GENUINE, self._facts(sc, GENUINE_BASIS)
        user = Actor(kind=ActorKind.NOTIFIER_USER, id=sc.brand.users[0])
        self._sync(sc, self.app.answer_identification(sc.case_id, verdict, basis, (), user))
        sc.identified = verdict
        sc.path.append(f"identified_{verdict.value}")
        self.at(self.work_after(rng.uniform(1, 8)), self._decide, sc)

    def _converse(self, sc: SimCase) -> None:
        """The brand writes to the platform about its case; an agent answers."""
        if sc.state in (State.CLOSED,):
            return
        rng = sc.rng
        user = Actor(kind=ActorKind.NOTIFIER_USER, id=sc.brand.users[0])
        self.app.post_message(sc.case_id, self._facts(sc, BRAND_MESSAGES), (), user)
        sc.path.append("message")
        if rng.random() < 0.7:
            self.at(self.work_after(rng.uniform(1, 12)), self._reply, sc)

    def _reply(self, sc: SimCase) -> None:
        if sc.state is State.CLOSED:
            return
        self.app.post_message(sc.case_id, sc.rng.choice(AGENT_REPLIES), (), self._agent(sc))

    def _clarify(self, sc: SimCase) -> None:
        if sc.state is not State.AWAITING_CLARIFICATION:
            return
        user = Actor(kind=ActorKind.NOTIFIER_USER, id=sc.brand.users[0])
        self._sync(
            sc,
            self.app.provide_clarification(
                sc.case_id,
                f"Registration {sc.right_type.value} as filed covers these goods; "
                f"test-buy photos for {sc.order} attached.",
                user,
            ),
        )
        sc.path.append("clarified")
        self.at(self.work_after(sc.rng.lognormvariate(1.2, 0.8)), self._decide, sc)

    def _after_takedown(self, sc: SimCase) -> None:
        """The seller may counter-notice within its window."""
        rng = sc.rng
        chance = 0.7 if not sc.infringing else (0.06 if sc.seller.kind != "repeat" else 0.04)
        due = sc.deadlines.get(Deadline.COUNTER_NOTICE)
        if due and rng.random() < chance:
            self.at(self.now + (due - self.now) * rng.uniform(0.05, 0.8), self._counter, sc)

    def _review(self, sc: SimCase) -> None:
        """Post-hoc review of a trusted-lane takedown."""
        if sc.state is not State.TAKEN_DOWN_PENDING_REVIEW:
            return
        rng, app = sc.rng, self.app
        if not sc.infringing and rng.random() < 0.85:
            self._sync(
                sc,
                app.reverse_takedown(
                    sc.case_id,
                    reasons.statement(sc.right_type, False, self._facts(sc, REVERSE_FACTS)),
                    self._agent(sc),
                ),
            )
            sc.reversed = True
            sc.path.append("reversed")
            return
        self._sync(
            sc,
            app.confirm_takedown(
                sc.case_id,
                reasons.statement(sc.right_type, True, self._facts(sc, CONFIRM_FACTS)),
                self._agent(sc),
            ),
        )
        sc.path.append("confirmed")
        if sc.state is State.TAKEN_DOWN and Deadline.COUNTER_NOTICE not in sc.deadlines:
            self._sync(
                sc,
                app.close_case(
                    sc.case_id,
                    "Appeal window passed during review; takedown final.",
                    self._agent(sc),
                ),
            )

    def _counter(self, sc: SimCase) -> None:
        if sc.state not in (State.TAKEN_DOWN, State.TAKEN_DOWN_PENDING_REVIEW):
            return
        seller = self._seller_user(sc.seller)
        self._sync(
            sc,
            self.app.counter_notice(
                sc.case_id, sc.rng.choice(COUNTER_STATEMENTS), sc.rng.random() < 0.8, seller
            ),
        )
        sc.path.append("counter_noticed")
        self.at(self.work_after(sc.rng.uniform(2, 16)), self._handle_counter, sc)

    def _handle_counter(self, sc: SimCase) -> None:
        if sc.state is not State.COUNTER_NOTICED:
            return
        rng, app = sc.rng, self.app
        if rng.random() < 0.55:
            self._sync(sc, app.forward_to_notifier(sc.case_id, self._agent(sc)))
            sc.path.append("forwarded")
            if rng.random() < (0.45 if sc.infringing else 0.04):
                self.at(self.work_after(rng.uniform(8, 70)), self._litigate, sc)
            elif not sc.infringing and rng.random() < 0.15:
                self.at(
                    self.work_after(rng.uniform(4, 40)),
                    self._withdraw,
                    sc,
                    "The seller's invoices check out; we withdraw the notice.",
                )
            return
        upheld = rng.random() < (0.9 if not sc.infringing else 0.08)
        if upheld:
            self._sync(
                sc,
                app.uphold_appeal(
                    sc.case_id,
                    reasons.statement(sc.right_type, False, self._facts(sc, UPHOLD_FACTS)),
                    self._agent(sc),
                ),
            )
            sc.reversed = True
            sc.path.append("appeal_upheld")
        else:
            self._appeal_rejected(sc, self._facts(sc, REJECT_FACTS))

    def _appeal_rejected(self, sc: SimCase, facts: str) -> None:
        self._sync(
            sc,
            self.app.reject_appeal(
                sc.case_id, reasons.statement(sc.right_type, True, facts), self._agent(sc)
            ),
        )
        sc.path.append("appeal_rejected")
        if sc.rng.random() < 0.7:
            self.at(self.work_after(sc.rng.uniform(4, 30)), self._close, sc)

    def _litigate(self, sc: SimCase) -> None:
        if sc.state is not State.FORWARDED:
            return
        user = Actor(kind=ActorKind.NOTIFIER_USER, id=sc.brand.users[0])
        court = sc.rng.choice(
            (
                "Landgericht München I",
                "Tribunal judiciaire de Paris",
                "High Court of Justice (IPEC)",
                "Rechtbank Den Haag",
            )
        )
        reference = f"{sc.rng.randint(1, 40)} O {sc.rng.randint(100, 9999)}/{self.now:%y}"
        self._sync(sc, self.app.report_litigation(sc.case_id, court, reference, user))
        sc.path.append("litigation")
        if sc.rng.random() < 0.4:
            self.at(self.work_after(sc.rng.uniform(60, 150)), self._court_decides, sc)

    def _court_decides(self, sc: SimCase) -> None:
        if sc.state is State.IN_LITIGATION:
            self._appeal_rejected(
                sc, "Court granted an injunction against the seller; the takedown stands."
            )

    def _close(self, sc: SimCase) -> None:
        if sc.state is State.APPEAL_REJECTED:
            self._sync(
                sc,
                self.app.close_case(sc.case_id, "Appeal decided; takedown final.", self._agent(sc)),
            )

    def _withdraw(self, sc: SimCase, reason: str) -> None:
        if sc.state in (State.FILED, State.FORWARDED, State.COUNTER_NOTICED):
            user = Actor(kind=ActorKind.NOTIFIER_USER, id=sc.brand.users[0])
            self._sync(sc, self.app.withdraw(sc.case_id, reason, user))
            sc.path.append("withdrawn")

    def _deadline_missed(self, sc: SimCase, kind: Deadline) -> None:
        """What follows a deadline of the case fired: its mark in the case's path, a restoration
        counted as a reversal, and after a missed review deadline the review done late."""
        sc.path.append(
            {
                Deadline.RESTORATION: "restored",
                Deadline.CLARIFICATION: "lapsed",
                Deadline.REVIEW: "review_missed",
                Deadline.COUNTER_NOTICE: "window_closed",
                Deadline.FORWARDING: "forwarding_missed",
                Deadline.IDENTIFICATION: "identification_lapsed",
            }[kind]
        )
        if kind is Deadline.IDENTIFICATION:
            self.at(self.work_after(sc.rng.uniform(1, 8)), self._decide, sc)
        if kind is Deadline.RESTORATION:
            sc.reversed = True
        elif kind is Deadline.REVIEW:
            self.at(self.work_after(sc.rng.uniform(1, 8)), self._review, sc)
