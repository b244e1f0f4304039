"""The simulation: the run drawn up front from the seed, then played in time order.

The notices (who files what about which listings, and when) are drawn before anything happens,
so the same seed gives the same notice ids and case ids on every run. The main loop pops the
schedule, sets the clock to each action's moment and runs it; every evening ntd catches up with
its log and its policies act, and once a week a progress line is printed. Deadlines are fired
from the simulation's own queue when the clock passes them (`Simulation._fire_deadline`).
"""

from __future__ import annotations

import hashlib
import heapq
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid5

import click

from domain.access import Grant
from domain.application import NtdApplication
from domain.case import Case, Deadline, Lane
from domain.values import SYSTEM, Actor, ActorKind, Role
from ntd.bootstrap import FixedClock
from ntd.deadlines import fire
from ntd.demo.behaviour import Behaviour
from ntd.demo.cast import (
    ACCOUNT_MANAGERS,
    ADMIN,
    AGENTS,
    AUDITOR,
    BRANDS,
    BULK_FILER,
    MARKETPLACES,
    ONBOARDING,
    REJECTED_RIGHT,
    SELLER_WORDS,
    SUPERVISOR,
    Brand,
    BrandSpec,
    NoticePlan,
    Seller,
    SimCase,
)
from ntd.demo.schedule import CLOSE_HOUR, OPEN_HOUR
from projections.models import DueDeadline

DEMO_NAMESPACE = UUID("8d3c1f0e-54a2-4b7e-9f13-6c2d8e7a1b40")
NOTICES_AT_SIZE_1 = 3000
SELLERS_AT_SIZE_1 = 600
BULK_AT_SIZE_1 = 5
POLICY_HOUR = 19
"""Every evening the policies catch up with the day: strikes, suspensions, trusted lane, misuse."""


@dataclass
class DemoResult:
    """What a run built, for the report and for tests."""

    seconds: float
    events: int
    notices: int
    refused: int
    cases: int
    busiest: UUID
    trusted: UUID | None
    showcase: UUID | None
    brands: dict[str, UUID]


class Simulation(Behaviour):
    """Notifiers, sellers and agents acting on one clock, in time order.

    This class draws the cast and the plan from the seed, onboards the notifiers, runs the main
    loop and fires deadlines; what each of them does with a notice or case is in `Behaviour`
    (behaviour.py), the clock, the queue and working hours in `Schedule` (schedule.py)."""

    def __init__(
        self,
        app: NtdApplication,
        clock: FixedClock,
        *,
        seed: int,
        size: float,
        start: datetime,
        end: datetime,
        policies: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        super().__init__(app, clock, seed=seed)
        self.size = size
        self.policies = policies
        """Runs the system's policies (strikes, suspensions, trusted lane, misuse) up to now."""
        self.acted: Counter[str] = Counter()
        """What the policies did so far, by command."""
        self.start, self.end = start, end
        self.rng = random.Random(seed)
        self.brands = [self._brand(spec) for spec in BRANDS]
        self.sellers = self._sellers()
        self.started = time.perf_counter()

    # -- plan ------------------------------------------------------------------------------

    def _brand(self, spec: BrandSpec) -> Brand:
        named = uuid5(DEMO_NAMESPACE, f"{self.seed}:notifier:{spec.name}")
        notifier_id = UUID(bytes=named.bytes, version=4)  # chosen ids are version 4 ones
        first = spec.contact.split()[0].lower()
        users = (f"{first}.{spec.contact.split()[-1][0].lower()}", "enforcement-bot", "paralegal")
        return Brand(spec, notifier_id, users=users)

    def _sellers(self) -> list[Seller]:
        """Repeat infringers with many listings; most others sell one or two noticed items."""
        count = max(40, round(SELLERS_AT_SIZE_1 * self.size))
        sellers: list[Seller] = []
        taken: set[str] = set()
        while len(sellers) < count:
            a, b = (self.rng.choice(words) for words in SELLER_WORDS)
            ref = self.rng.choice(
                (
                    f"{a}-{b}-{self.rng.randint(1, 999)}",
                    f"{a}_{b}",
                    f"{a}{b}{self.rng.randint(10, 99)}",
                )
            )
            if ref in taken:
                continue
            taken.add(ref)
            roll = self.rng.random()
            kind = "repeat" if roll < 0.15 else ("reseller" if roll < 0.27 else "casual")
            budget = {
                "repeat": 0,
                "reseller": self.rng.randint(1, 3),
                "casual": self.rng.choices((1, 2), (7, 3))[0],
            }[kind]
            sellers.append(
                Seller(
                    ref,
                    self.rng.choice(MARKETPLACES),
                    kind,
                    budget=budget,
                    weight=self.rng.paretovariate(1.3),
                )
            )
        return sellers

    def _listing_id(self, seller: Seller) -> str:
        n = self.rng.randrange(10**7, 10**8)
        return {
            "marketly": f"MK{n}",
            "bazario": f"{n}{self.rng.randint(10, 99)}",
            "shopnest": f"sn-{n:x}",
        }[seller.marketplace]

    def _seller(self, repeaters: list[Seller], others: list[Seller]) -> Seller:
        """Mostly a repeat infringer (heavy-tailed); now and then a seller with a budget left."""
        if others and self.rng.random() < 0.12:
            seller = self.rng.choice(others)
            seller.budget -= 1
            if seller.budget <= 0:
                others.remove(seller)
            return seller
        return self.rng.choices(repeaters, [s.weight for s in repeaters])[0]

    def _pick_listings(
        self, count: int, repeaters: list[Seller], others: list[Seller]
    ) -> list[tuple[Seller, str]]:
        chosen: list[tuple[Seller, str]] = []
        seen: set[str] = set()
        while len(chosen) < count:
            seller = self._seller(repeaters, others)
            if seller.listings and self.rng.random() < 0.06:
                listing = self.rng.choice(seller.listings)
            else:
                listing = self._listing_id(seller)
                seller.listings.append(listing)
            if listing not in seen:
                seen.add(listing)
                chosen.append((seller, listing))
        return chosen

    def plan(self) -> list[NoticePlan]:
        """Every notice of the run, drawn from the seed alone."""
        total = max(20, round(NOTICES_AT_SIZE_1 * self.size))
        bulk = set(self.rng.sample(range(total), max(1, round(BULK_AT_SIZE_1 * self.size))))
        weights = [b.spec.weight for b in self.brands]
        big = sorted(
            (b for b in self.brands if b.spec.role in ("trusted", "")), key=lambda b: -b.spec.weight
        )[:3]
        repeaters = [s for s in self.sellers if s.kind == "repeat"]
        others = [s for s in self.sellers if s.kind != "repeat"]
        plans = []
        for index in range(total):
            if index in bulk:
                brand = big[len([i for i in bulk if i < index]) % len(big)]
                upper = 300 if self.size >= 0.5 else 80
                ring = self.rng.sample(repeaters, min(4, len(repeaters)))
                listings = self._pick_listings(self.rng.randint(50, upper), ring, [])
            else:
                brand = self.rng.choices(self.brands, weights)[0]
                count = self.rng.choices((1, 2, 3, 4, 5), (55, 22, 13, 6, 4))[0]
                listings = self._pick_listings(count, repeaters, others)
            plans.append(
                NoticePlan(
                    index,
                    uuid5(DEMO_NAMESPACE, f"{self.seed}:notice:{index}"),
                    brand,
                    self.rng.randrange(len(brand.spec.rights)),
                    listings,
                    self.rng.random(),
                    f"{self.rng.choice(MARKETPLACES)}-{self.rng.randint(100000, 999999)}",
                )
            )
        timing = random.Random(f"{self.seed}:timing")
        moments = sorted(self._filing_moment(timing) for _ in plans)
        for p, moment in zip(plans, moments, strict=True):
            p.when = moment
        return plans

    def _filing_moment(self, rng: random.Random) -> datetime:
        first = self.start + timedelta(days=2)
        span = (self.end - first).total_seconds()
        while True:
            moment = first + timedelta(seconds=rng.random() * span)
            if self.app.calendar.is_business_day(moment.date()):
                hour = rng.triangular(OPEN_HOUR, CLOSE_HOUR - 0.01, 10.5)
                return moment.replace(
                    hour=int(hour),
                    minute=int(hour % 1 * 60),
                    second=rng.randrange(60),
                    microsecond=0,
                )

    # -- main loop ---------------------------------------------------------------------------

    def run(self) -> DemoResult:
        """Set the cast up, play every notice and what follows, stop at the end time."""
        plans = self.plan()
        self.clock.set(self.start)
        self._onboard()
        for p in plans:
            self.at(p.when, self._file, p)
        evening = self.start.replace(hour=POLICY_HOUR, minute=0, second=0, microsecond=0)
        while evening < self.end:
            self.at(evening, self._run_policies)
            evening += timedelta(days=1)
        next_report = self.start + timedelta(weeks=1)
        while self.queue and self.queue[0][0] <= self.end:
            moment, _, action, args = heapq.heappop(self.queue)
            while moment >= next_report:
                self._progress(next_report)
                next_report += timedelta(weeks=1)
            self.clock.set(moment)
            action(*args)
        self.clock.set(self.end)
        self._progress(self.end)
        return self._result()

    def _run_policies(self) -> None:
        self.acted.update(self.policies())

    def _progress(self, moment: datetime) -> None:
        weeks = round((moment - self.start) / timedelta(weeks=1), 1)
        total = round((self.end - self.start) / timedelta(weeks=1))
        events = self.events()
        elapsed = time.perf_counter() - self.started
        click.echo(
            f"week {weeks:g}/{total} ({moment:%Y-%m-%d}): {self.notices:,} notices · "
            f"{len(self.cases):,} cases · {events:,} events · "
            f"{events / max(elapsed, 1e-6):,.0f} events/s · "
            f"{self.acted['RecordStrike']:,} strikes",
            err=True,
        )

    def events(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _result(self) -> DemoResult:
        counts = {b.notifier_id: len(b.cases) for b in self.brands}
        busiest = max(counts, key=lambda k: counts[k])
        lane = [
            b
            for b in self.brands
            if b.notifier_id != busiest and self.app.notifier(b.notifier_id, SYSTEM).in_trusted_lane
        ]
        lane = lane or [b for b in self.brands if b.first_trusted_at]
        return DemoResult(
            seconds=time.perf_counter() - self.started,
            events=self.events(),
            notices=self.notices,
            refused=self.refused,
            cases=len(self.cases),
            busiest=busiest,
            trusted=max(lane, key=lambda b: len(b.cases)).notifier_id if lane else None,
            showcase=self._showcase(),
            brands={b.spec.name: b.notifier_id for b in self.brands},
        )

    def _showcase(self) -> UUID | None:
        """A case worth reading: taken down, counter-noticed, forwarded, then restored."""
        wanted = [
            ["taken_down", "counter_noticed", "forwarded", "restored"],
            ["taken_down", "counter_noticed", "forwarded"],
            ["taken_down", "counter_noticed"],
            ["taken_down"],
        ]
        for path in wanted:
            for bulk in (False, True):
                for sc in self.cases.values():
                    if sc.lane is Lane.NORMAL and sc.bulk is bulk and sc.path[: len(path)] == path:
                        return sc.case_id
        return next(iter(self.cases), None)

    # -- onboarding ----------------------------------------------------------------------------

    def _staff(self) -> None:
        """The platform's people, with the roles the demo's commands need."""
        app = self.app
        app.name_first_admin(ADMIN)
        for agent in AGENTS:
            app.grant_role(agent, Grant(role=Role.AGENT), ADMIN)
        app.grant_role(SUPERVISOR, Grant(role=Role.SUPERVISOR), ADMIN)
        for manager in (ONBOARDING, *ACCOUNT_MANAGERS):
            app.grant_role(manager, Grant(role=Role.ACCOUNT_MANAGER), ADMIN)
        app.grant_role(AUDITOR, Grant(role=Role.AUDITOR), ADMIN)

    def _onboard(self) -> None:
        app = self.app
        self._staff()
        for brand in self.brands:
            spec = brand.spec
            app.register_notifier(
                spec.name, spec.kind, f"legal@{spec.domain}", ONBOARDING, brand.notifier_id
            )
            manager = ACCOUNT_MANAGERS[self.brands.index(brand) % len(ACCOUNT_MANAGERS)]
            app.assign_manager(brand.notifier_id, manager, SUPERVISOR)
            user = Actor(kind=ActorKind.NOTIFIER_USER, id=brand.users[0])
            for who, role in ((user, Role.NOTIFIER_ADMIN), (BULK_FILER, Role.REPORTER)):
                app.grant_role(who, Grant(role=role, notifier_id=brand.notifier_id), ADMIN)
            for right_type, number, where in spec.rights:
                sha = hashlib.sha256(f"{spec.name}|{number}|{where}".encode()).hexdigest()
                right_id = app.register_right(
                    brand.notifier_id, right_type, number, where, sha, user
                )
                if (spec.name, number) == REJECTED_RIGHT:
                    app.reject_right(
                        brand.notifier_id,
                        right_id,
                        "The certificate does not match the register entry: the "
                        "owner named there is a different company.",
                        SUPERVISOR,
                    )
                else:
                    app.verify_right(brand.notifier_id, right_id, SUPERVISOR)
                    brand.rights.append((right_id, right_type))
            self.clock.set(self.now + timedelta(minutes=7))

    # -- deadlines, fired by the service `ntd deadlines run` uses (ntd.deadlines.fire) ---------

    def _sync(self, sc: SimCase, case: Case) -> None:
        """Mirror the case's state and open deadlines; queue each new deadline's firing."""
        super()._sync(sc, case)
        for kind, due in sc.deadlines.items():
            if (kind, due) not in sc.watched:
                sc.watched.add((kind, due))
                self.at(_sweep_after(due), self._fire_deadline, sc, kind, due)

    def _fire_deadline(self, sc: SimCase, kind: Deadline, due: datetime) -> None:
        """Fire one deadline of one case at the sweep after it fell due, unless the case has
        moved on since (the deadline met, or replaced by another)."""
        if sc.deadlines.get(kind) != due:
            return
        fired = fire(self.app, DueDeadline(case_id=sc.case_id, deadline=kind, due_at=due))
        if fired.case is None:  # the demo's own mirror says the case still waits on it
            raise RuntimeError(f"demo: deadline {kind.value} of case {sc.case_id}: {fired.skipped}")
        self._sync(sc, fired.case)
        self._deadline_missed(sc, kind)


def _sweep_after(due: datetime) -> datetime:
    """Deadline sweeps run every quarter hour: the first one at or after `due`."""
    base = due.replace(second=0, microsecond=0)
    step = (-base.minute) % 15 or (15 if base < due else 0)
    return base + timedelta(minutes=step)
