"""`ntd demo`: a seeded marketplace simulated over weeks, every step through the application API.

The notices (who files what about which listings) are drawn up front from the seed, so the same
seed gives the same notice ids and case ids on every run; what happens to each case is drawn from
a random stream of its own. A fixed clock walks through business hours; deadlines are fired from
the simulation's own queue when the clock passes them. Standing and penalties are not simulated:
every evening ntd catches up with its log and its policies record strikes, suspend sellers and
move notifiers in and out of the trusted lane, as they would in production.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import random
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import click

from domain.application import FilingReceipt, NtdApplication
from domain.case import Case, Deadline, Lane, ReasonCode, State
from domain.notice import NoticeRefused, NoticeSubmission
from domain.notifier import NotifierKind
from domain.values import Actor, ActorKind, RightType
from ntd import reasons, render
from ntd.bootstrap import STORE_MARK, FixedClock, Ntd, build, sqlite_stores
from ntd.config import Settings

DEMO_NAMESPACE = UUID("8d3c1f0e-54a2-4b7e-9f13-6c2d8e7a1b40")
NOTICES_AT_SIZE_1 = 3000
SELLERS_AT_SIZE_1 = 600
BULK_AT_SIZE_1 = 5
OPEN_HOUR, CLOSE_HOUR = 8, 18
"""Agents and notifiers work 08:00–18:00 UTC on business days."""
POLICY_HOUR = 19
"""Every evening the policies catch up with the day: strikes, suspensions, trusted lane, misuse."""


class DemoError(Exception):
    """The demo cannot run here (e.g. the store already holds events)."""


# -- the cast --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrandSpec:
    name: str
    kind: NotifierKind
    domain: str
    weight: float
    """Share of the notice volume, relative."""
    quality: float
    """Share of its notices that are about real infringements."""
    rights: tuple[tuple[RightType, str, str], ...]
    role: str = ""
    """`trusted` (good enough for the lane), `slipping` (gets careless once in the lane),
    `sloppy` (files unfounded notices); the policies decide what follows."""
    contact: str = "Legal Team"


T, C, D, P, G = (RightType.TRADEMARK, RightType.COPYRIGHT, RightType.DESIGN, RightType.PATENT,
                 RightType.GEOGRAPHIC_INDICATION)  # fmt: skip
B, A, TA = NotifierKind.BRAND, NotifierKind.AGENT, NotifierKind.TRADE_ASSOCIATION
# fmt: off
BRANDS: tuple[BrandSpec, ...] = (
    BrandSpec("Northpeak Outdoor", B, "northpeak.example", 14, 0.86,
              ((T, "018412775", "EU"), (T, "6120455", "US"), (D, "008812345-0002", "EU")),
              contact="Ingrid Solberg"),
    BrandSpec("Aurelia Leather", B, "aurelia.example", 10, 0.985,
              ((T, "018234567", "EU"), (D, "008765432-0001", "EU")), "trusted",
              contact="Jeanne Moreau"),
    BrandSpec("Halcyon Watches", B, "halcyon.example", 9, 0.985,
              ((T, "017998120", "EU"), (T, "UK00003456789", "GB")), "trusted",
              contact="Marcus Hale"),
    BrandSpec("Velvet & Vine Cosmetics", B, "velvetvine.example", 8, 0.98,
              ((T, "018301442", "EU"),), "slipping", contact="Chloé Verdier"),
    BrandSpec("Brightwave Audio", B, "brightwave.example", 6, 0.9,
              ((T, "5987001", "US"), (P, "EP3456789", "EU")), contact="Dev Patel"),
    BrandSpec("Solenne Parfums", B, "solenne.example", 5, 0.93,
              ((T, "018150099", "EU"),), "trusted", contact="Amélie Roux"),
    BrandSpec("Kestrel Cycling", B, "kestrel.example", 4, 0.88,
              ((T, "018077231", "EU"), (D, "008554321-0003", "EU")), contact="Tom Ridley"),
    BrandSpec("Maison Ortolan", B, "ortolan.example", 5, 0.9,
              ((T, "017654321", "EU"), (T, "40112233", "CN"), (D, "008700112-0001", "EU")),
              contact="Hélène Marchand"),
    BrandSpec("Tidewater Apparel", B, "tidewater.example", 3, 0.87,
              ((T, "6034412", "US"),), contact="Grace Whitman"),
    BrandSpec("Copperleaf Kitchenware", B, "copperleaf.example", 2, 0.9,
              ((D, "008690011-0004", "EU"), (T, "018299870", "EU")), contact="Nils Berg"),
    BrandSpec("Lumen & Loom", B, "lumenloom.example", 2, 0.85,
              ((D, "008720456-0002", "EU"), (C, "VA 2-311-874", "US")), contact="Priya Nair"),
    BrandSpec("Ironbark Tools", B, "ironbark.example", 2, 0.88,
              ((P, "EP3120987", "EU"), (T, "018200456", "EU")), contact="Owen Clarke"),
    BrandSpec("Pixelforge Games", B, "pixelforge.example", 3, 0.9,
              ((C, "PA 2-401-556", "US"), (T, "018311002", "EU")), contact="Yuki Tanaka"),
    BrandSpec("Riverstone Ceramics", B, "riverstone.example", 1, 0.9,
              ((D, "008610778-0001", "EU"),), contact="Elena Costa"),
    BrandSpec("Consorzio Pecorino di Val d'Orcia", TA, "valdorcia.example", 1, 0.92,
              ((G, "PDO-IT-01842", "EU"),), contact="Giulia Bianchi"),
    BrandSpec("Nordlys Eyewear", B, "nordlys.example", 3, 0.89,
              ((T, "018188231", "EU"), (D, "008733310-0001", "EU")), contact="Sigrid Dahl"),
    BrandSpec("Marigold Kids", B, "marigold.example", 2, 0.9,
              ((T, "018276540", "EU"), (C, "VA 2-298-001", "US")), contact="Ruth Okafor"),
    BrandSpec("Vigilant Brand Protection", A, "vigilant.example", 4, 0.2,
              ((T, "018099911", "EU"), (T, "6201187", "US")), "sloppy", contact="Rick Vance"),
    BrandSpec("Alpine Crest Skincare", B, "alpinecrest.example", 2, 0.91,
              ((T, "018322004", "EU"),), contact="Lena Huber"),
    BrandSpec("European Footwear Federation", TA, "eff.example", 2, 0.88,
              ((T, "018012345", "EU"), (D, "008501234-0005", "EU")), contact="Paolo Ferri"),
)
# fmt: on
REJECTED_RIGHT = ("Maison Ortolan", "40112233")
"""One right the agents refuse: its certificate does not match the register."""

MARKETPLACES = ("marketly", "bazario", "shopnest")
AGENTS = tuple(
    Actor(kind=ActorKind.AGENT, id=name)
    for name in ("maria.k", "tomas.b", "li.wen", "amara.o", "jonas.p", "sofia.r")
)
ONBOARDING = Actor(kind=ActorKind.AGENT, id="onboarding")
REASON_FOR = {
    T: (ReasonCode.COUNTERFEIT, ReasonCode.TRADEMARK_MISUSE),
    C: (ReasonCode.COPYRIGHT_COPY,),
    D: (ReasonCode.DESIGN_COPY,),
    P: (ReasonCode.PATENT_INFRINGEMENT,),
    G: (ReasonCode.GI_MISUSE,),
}
# fmt: off
SELLER_WORDS = (
    ("luxe", "best", "top", "mega", "prime", "urban", "global", "happy", "smart", "royal",
     "star", "golden", "sunny", "eco", "vintage", "trendy", "discount", "factory", "super",
     "daily", "nova", "bright", "city", "lucky"),
    ("deals", "outlet", "store", "shop", "bazaar", "trading", "goods", "market", "emporium",
     "corner", "house", "direct", "world", "hub", "mart", "finds", "supply", "depot"),
)
# fmt: on
TAKEDOWN_FACTS = (
    "Test purchase {order}: the item bears the {brand} mark but the serial tag is missing and "
    "the hardware is not genuine.",
    "Test purchase {order}: packaging copies the registered trade dress; the product is not "
    "made by or for {brand}.",
    "Listing photos are {brand}'s own campaign images; the goods shipped in test buy {order} "
    "are counterfeit.",
    "Listing offers '{brand}-style' goods using the registered sign for identical goods "
    "without consent.",
)
DECLINE_FACTS = (
    "The listing offers genuine {brand} goods first put on the EEA market by the right holder "
    "(exhaustion of rights).",
    "The notice does not show which element of the listing uses the registered right.",
    "The sign is used descriptively to state compatibility with {brand} products.",
)
REVERSE_FACTS = (
    "Post-hoc review: the seller is on {brand}'s authorised reseller list.",
    "Post-hoc review: the goods are genuine; the test buy was of a different listing.",
)
CONFIRM_FACTS = "Post-hoc review: listing photos and test buy {order} confirm the counterfeit."
UPHOLD_FACTS = "The seller produced invoices from {brand}'s authorised distributor; reinstated."
REJECT_FACTS = "The counter-notice gives no evidence of authorisation; test buy {order} stands."
QUESTIONS = (
    "Which of your registrations covers the goods in this listing?",
    "Please attach the test-buy photos referenced in the notice.",
    "Which element of the listing do you consider infringing?",
)
COUNTER_STATEMENTS = (
    "These are genuine goods bought from the brand's distributor; invoices attached.",
    "I am an authorised reseller; the takedown is a mistake.",
    "The product is my own design and does not use the brand's mark.",
)


@dataclass
class Brand:
    """A notifier as the simulation knows it."""

    spec: BrandSpec
    notifier_id: UUID
    rights: list[tuple[UUID, RightType]] = field(default_factory=list)
    first_trusted_at: datetime | None = None
    """When a notice of this brand was first filed in the trusted lane."""
    cases: list[SimCase] = field(default_factory=list)
    users: tuple[str, ...] = ()


@dataclass
class Seller:
    ref: str
    marketplace: str
    kind: str
    """`repeat` infringer, `reseller` (mostly genuine goods) or `casual`."""
    budget: int = 0
    """How many more of its listings may be noticed (repeat infringers: no limit)."""
    weight: float = 1.0
    listings: list[str] = field(default_factory=list)


@dataclass
class NoticePlan:
    """A notice drawn up front: who files it, when, and about which listings."""

    index: int
    notice_id: UUID
    brand: Brand
    right_index: int
    listings: list[tuple[Seller, str]]
    reason_pick: float
    order: str
    when: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))


@dataclass
class SimCase:
    """A case as the simulation follows it: the truth behind it and its mirrored state."""

    case_id: UUID
    brand: Brand
    seller: Seller
    right_type: RightType
    order: str
    rng: random.Random
    infringing: bool
    filed_at: datetime
    lane: Lane = Lane.NORMAL
    state: State = State.FILED
    deadlines: dict[Deadline, datetime] = field(default_factory=dict)
    watched: set[tuple[Deadline, datetime]] = field(default_factory=set)
    bulk: bool = False
    taken_down: bool = False
    reversed: bool = False
    path: list[str] = field(default_factory=list)
    """What happened, in order, e.g. taken_down, counter_noticed, forwarded, restored."""


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


# -- running ---------------------------------------------------------------------------------


def run_demo(
    settings: Settings,
    *,
    size: float = 1.0,
    seed: int = 2026,
    weeks: int = 8,
    fresh: bool = False,
    end: datetime | None = None,
) -> DemoResult:
    """Build the demo marketplace in the configured store, then print what to look at."""
    if fresh:
        for line in wipe(settings):
            click.echo(line, err=True)
    end = (end or settings.now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    start = end - timedelta(weeks=weeks)
    clock = FixedClock(start)
    ntd = build(settings, clock=clock)
    try:
        _refuse_non_empty(ntd)
        sim = Simulation(
            ntd.app, clock, seed=seed, size=size, start=start, end=end, policies=_policies(ntd)
        )
        result = sim.run()
        report(ntd, sim, result)
        return result
    finally:
        ntd.close()


def _policies(ntd: Ntd) -> Callable[[], Mapping[str, int]]:
    """Catch ntd up with its log (projections, then policies); returns what the policies did."""

    def run() -> Mapping[str, int]:
        ntd.catch_up()
        return ntd.policies.acted if ntd.policies else {}

    return run


def policy_summary(acted: Mapping[str, int]) -> str:
    """What the policies did, in words, e.g. `412 strikes (23 taken back), 31 sellers suspended`."""
    parts = [
        f"{acted.get('RecordStrike', 0):,} strikes ({acted.get('RemoveStrike', 0):,} taken back)",
        f"{acted.get('SuspendSeller', 0):,} sellers suspended",
        f"{acted.get('AdmitToTrustedLane', 0)} admissions to and "
        f"{acted.get('RemoveFromTrustedLane', 0)} removals from the trusted lane",
        f"{acted.get('WarnNotifier', 0)} misuse warnings",
        f"{acted.get('SuspendNotifier', 0)} notifier suspensions",
    ]
    return ", ".join(parts)


def wipe(settings: Settings) -> list[str]:
    """Delete the embedded stores ntd created in the data dir, with their -wal, -shm and -journal
    files; returns what was deleted, for the user. Every file is checked before any is deleted:
    a store outside the data dir, a symbolic link, anything not a regular file or without ntd's
    mark in its SQLite header (a store of an older ntd, or not ntd's) makes it delete nothing."""
    if settings.event_store != "sqlite":
        raise DemoError(
            "--fresh deletes only the embedded SQLite stores, but NTD_EVENT_STORE is "
            f"{settings.event_store}; empty that store yourself or use another --data-dir"
        )
    root = settings.data_dir.resolve()
    doomed: list[Path] = []
    problems: list[str] = []
    for store in sqlite_stores(settings):
        named = store in (settings.data_dir / "events.db", settings.data_dir / "read.db")
        files, problem = _confirm(store, root, "" if named else " (NTD_READ_DSN)")
        doomed += [f for f in files if f not in doomed]  # the read store may be the event store
        problems += [problem] if problem else []
    if problems:
        raise DemoError(
            f"--fresh deleted nothing: {'; '.join(problems)}. It deletes only the stores ntd "
            f"created (marked in their SQLite header) inside the data dir {root}: delete the "
            "files by hand if nothing in them is needed, or run the demo with another --data-dir"
        )
    deleted = []
    for path in doomed:
        size = path.stat().st_size
        path.unlink()
        deleted.append(f"deleted {path} ({size / 1e6:.1f} MB)")
    return deleted or [f"--fresh: nothing to delete in {settings.data_dir}"]


COMPANIONS = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database; deleted only with their confirmed store."""


def _confirm(store: Path, root: Path, named: str) -> tuple[list[Path], str]:
    """The files to delete for one store (its companions, then the store), or why not."""
    companions = [store.with_name(store.name + suffix) for suffix in COMPANIONS]
    present = [c for c in companions if os.path.lexists(c)]
    if not os.path.lexists(store):
        if present:
            return [], f"{present[0]} lies there without its store {store.name}"
        return [], ""
    real = store.parent.resolve() / store.name
    if not real.is_relative_to(root):
        where = "" if real == store else f" (it is {real})"
        return [], f"{store}{named} is outside the data dir{where}"
    for path in (store, *present):
        if path.is_symlink():
            return [], f"{path} is a symbolic link (to {os.readlink(path)})"
        if not stat.S_ISREG(path.lstat().st_mode):
            return [], f"{path} is not a regular file"
    with store.open("rb") as file:
        header = file.read(100)
    if not header.startswith(b"SQLite format 3\0"):
        return [], f"{store} is not a SQLite database"
    if int.from_bytes(header[68:72], "big") != STORE_MARK:
        return [], f"{store} has no ntd mark (an older ntd made it, or not ntd)"
    return [*present, store], ""


def _refuse_non_empty(ntd: Ntd) -> None:
    events = ntd.app.recorder.max_notification_id() or 0
    projected = ntd.read_store.position() if ntd.settings.feed == "log" else 0
    if events or projected:
        where = ntd.settings.data_dir if ntd.settings.event_store == "sqlite" else "the store"
        raise DemoError(
            f"{where} already holds {max(events, projected):,} events; the demo needs an empty "
            "store: run `ntd demo --fresh` to delete it first, or pick another --data-dir"
        )


# -- the simulation --------------------------------------------------------------------------


class Simulation:
    """Notifiers, sellers and agents acting on one clock, in time order."""

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
        self.app, self.clock, self.seed, self.size = app, clock, seed, size
        self.policies = policies
        """Runs the system's policies (strikes, suspensions, trusted lane, misuse) up to now."""
        self.acted: Counter[str] = Counter()
        """What the policies did so far, by command."""
        self.start, self.end = start, end
        self.rng = random.Random(seed)
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[Any, ...]]] = []
        self.order = itertools.count()
        self.brands = [self._brand(spec) for spec in BRANDS]
        self.sellers = self._sellers()
        self.cases: dict[UUID, SimCase] = {}
        self.notices = self.refused = 0
        self.started = time.perf_counter()

    # -- plan ------------------------------------------------------------------------------

    def _brand(self, spec: BrandSpec) -> Brand:
        notifier_id = uuid5(DEMO_NAMESPACE, f"{self.seed}:notifier:{spec.name}")
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

    # -- time ------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def at(self, moment: datetime, action: Callable[..., None], *args: Any) -> None:
        """Schedule an action; nothing happens before the clock's present."""
        heapq.heappush(self.queue, (max(moment, self.now), next(self.order), action, args))

    def _open(self, moment: datetime) -> datetime:
        calendar = self.app.calendar
        while True:
            if calendar.is_business_day(moment.date()) and moment.hour < CLOSE_HOUR:
                opening = moment.replace(hour=OPEN_HOUR, minute=0, second=0, microsecond=0)
                return max(moment, opening)
            moment = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    def work_after(self, hours: float, start: datetime | None = None) -> datetime:
        """The moment `hours` working hours after `start` (default now)."""
        moment, remaining = start or self.now, timedelta(hours=hours)
        while True:
            moment = self._open(moment)
            closing = moment.replace(hour=CLOSE_HOUR, minute=0, second=0, microsecond=0)
            if moment + remaining < closing:
                return moment + remaining
            remaining -= closing - moment
            moment = closing

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
            if b.notifier_id != busiest and self.app.notifier(b.notifier_id).in_trusted_lane
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

    def _onboard(self) -> None:
        app = self.app
        for brand in self.brands:
            spec = brand.spec
            app.register_notifier(
                spec.name, spec.kind, f"legal@{spec.domain}", ONBOARDING, brand.notifier_id
            )
            for right_type, number, where in spec.rights:
                sha = hashlib.sha256(f"{spec.name}|{number}|{where}".encode()).hexdigest()
                user = Actor(kind=ActorKind.NOTIFIER_USER, id=brand.users[0])
                right_id = app.register_right(
                    brand.notifier_id, right_type, number, where, sha, user
                )
                if (spec.name, number) == REJECTED_RIGHT:
                    app.reject_right(
                        brand.notifier_id,
                        right_id,
                        "The certificate does not match the register entry: the "
                        "owner named there is a different company.",
                        ONBOARDING,
                    )
                else:
                    app.verify_right(brand.notifier_id, right_id, ONBOARDING)
                    brand.rights.append((right_id, right_type))
            self.clock.set(self.now + timedelta(minutes=7))

    # -- filing ------------------------------------------------------------------------------

    def _file(self, p: NoticePlan) -> None:
        brand = p.brand
        right_id, right_type = brand.rights[p.right_index % len(brand.rights)]
        codes = REASON_FOR[right_type]
        user = brand.users[0] if len(p.listings) < 50 else "enforcement-bot"
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
            filed = self.app.file_notice(submission)
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
                self._sync(sc, self.app.case(sc.case_id))
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
        """Mirror the case's state and open deadlines; queue each new deadline's firing."""
        sc.state = case.state
        sc.deadlines = dict(case.deadlines)
        for kind, due in sc.deadlines.items():
            if (kind, due) not in sc.watched:
                sc.watched.add((kind, due))
                self.at(_sweep_after(due), self._deadline, sc, kind, due)

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
        take = rng.random() < (0.97 if sc.infringing else 0.3)
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
        seller = Actor(kind=ActorKind.SELLER, id=sc.seller.ref)
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

    def _deadline(self, sc: SimCase, kind: Deadline, due: datetime) -> None:
        if sc.deadlines.get(kind) != due:
            return
        self._sync(sc, self.app.miss_deadline(sc.case_id, kind))
        sc.path.append(
            {
                Deadline.RESTORATION: "restored",
                Deadline.CLARIFICATION: "lapsed",
                Deadline.REVIEW: "review_missed",
                Deadline.COUNTER_NOTICE: "window_closed",
            }[kind]
        )
        if kind is Deadline.RESTORATION:
            sc.reversed = True
        elif kind is Deadline.REVIEW:
            self.at(self.work_after(sc.rng.uniform(1, 8)), self._review, sc)


def _sweep_after(due: datetime) -> datetime:
    """Deadline sweeps run every quarter hour: the first one at or after `due`."""
    base = due.replace(second=0, microsecond=0)
    step = (-base.minute) % 15 or (15 if base < due else 0)
    return base + timedelta(minutes=step)


# -- the report ------------------------------------------------------------------------------


def report(ntd: Ntd, sim: Simulation, result: DemoResult) -> None:
    """Catch the projections up, then show dashboards, an audit excerpt and what to try."""
    from projections import AuditQuery

    out = click.echo
    out(
        f"\nBuilt in {result.seconds:.1f} s: {len(sim.brands)} notifiers, "
        f"{len(sim.sellers)} sellers, {result.notices:,} notices "
        f"({result.refused} more refused while their notifier was suspended), "
        f"{result.cases:,} cases, {result.events:,} events "
        f"({result.events / max(result.seconds, 1e-6):,.0f} events/s)"
    )
    if ntd.settings.feed != "log":
        out(
            "The projections are fed from Kafka (NTD_FEED=kafka): the figures below are as far "
            "as the consumers have got."
        )
    caught = time.perf_counter()
    behind = result.events - ntd.read_store.position()
    with click.progressbar(
        length=behind, label="catching up projections", file=sys.stderr, show_pos=True, width=30
    ) as bar:
        ntd.catch_up(lambda done, _total: bar.update(max(0, done - bar.pos)))
    out(
        f"Projections caught up in {time.perf_counter() - caught:.1f} s "
        f"(data in {ntd.settings.data_dir})"
    )
    if ntd.policies is not None:
        sim.acted.update(ntd.policies.acted)
    if ntd.settings.feed == "log":
        out(f"Policies: {policy_summary(sim.acted)}")
    store, rules, now = ntd.read_store, ntd.app.rules, sim.end
    out("\n== Busiest brand ==")
    out(render.dashboard_view(store.dashboard(result.busiest, now, rules)))
    if result.trusted:
        out("\n== A trusted-lane brand ==")
        out(render.dashboard_view(store.dashboard(result.trusted, now, rules)))
    if result.showcase:
        sc = sim.cases[result.showcase]
        out(f"\n== Audit trail of case {result.showcase} ({' → '.join(sc.path)}) ==")
        for line in render.audit_excerpt(store.audit_query(AuditQuery(case_id=result.showcase))):
            out(line)
    busiest = next(n for n, i in result.brands.items() if i == result.busiest)
    case_id = result.showcase
    out("\nTry next:")
    tries = []
    if case_id:
        tries += [
            (f"ntd case show {case_id}", "state, deadlines, reasons and timeline"),
            (f"ntd case history {case_id} --version 1", "the case as filed, before its takedown"),
        ]
    tries += [
        (f"ntd dashboard --brand {result.busiest}", f"{busiest}'s figures"),
    ]
    if case_id:
        tries.append((f"ntd audit query --case {case_id} --format table", "its audit rows"))
    tries += [
        ("ntd audit verify", "re-check every hash chain"),
        ("ntd deadlines run --dry-run", "deadlines due now (drop --dry-run to fire them)"),
    ]
    width = max(len(cmd) for cmd, _ in tries)
    for cmd, why in tries:
        out(f"  {cmd.ljust(width)}  # {why}")
