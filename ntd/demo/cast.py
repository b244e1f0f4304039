"""Who is in the demo: the brands and trade bodies that file notices (with their rights and how
careful they are), the sellers they notice, the marketplace's agents, the words each of them
writes, and the records the simulation keeps of them: the notices it drew and the cases it follows.

All of it is fixed here or drawn from the seed (ntd/demo/simulation.py); nothing in this module
talks to ntd.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from domain.case import Authenticity, Deadline, Lane, ReasonCode, State
from domain.notifier import NotifierKind
from domain.values import Actor, ActorKind, RightType

# -- who is in it ----------------------------------------------------------------------------


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
"""The account manager who registers the brands."""
ACCOUNT_MANAGERS = (
    Actor(kind=ActorKind.AGENT, id="am.ines"),
    Actor(kind=ActorKind.AGENT, id="am.kofi"),
)
"""Each brand's account manager, assigned in turn: its portal contact at the marketplace."""
SUPERVISOR = AGENTS[-1]
"""The agent who also supervises: verifies rights, decides standing."""
ADMIN = Actor(kind=ActorKind.AGENT, id="admin.ops")
"""The store's first admin, who grants everyone else their roles."""
AUDITOR = Actor(kind=ActorKind.AGENT, id="audit.kim")
"""A compliance auditor: reads everything, changes nothing."""
BULK_FILER = Actor(kind=ActorKind.NOTIFIER_USER, id="enforcement-bot")
"""The brands' shared detection tool that files the bulk notices, a reporter of each brand."""
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

# -- what they write -------------------------------------------------------------------------

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
IDENTIFY_QUESTIONS = (
    "Is the item in this listing genuine {brand} merchandise?",
    "Please identify the test-buy item {order}: genuine or counterfeit?",
    "The seller claims authorised stock; can you confirm from the photos?",
)
COUNTERFEIT_BASIS = (
    "Serial tag missing and stitching pattern not ours; item {order} is counterfeit.",
    "Hologram and packaging do not match our production; counterfeit.",
)
GENUINE_BASIS = (
    "Batch code matches a lot we shipped to an authorised distributor: genuine.",
    "The photos show our current season's genuine product.",
)
BRAND_MESSAGES = (
    "We have two more test buys from this seller; shall we send them?",
    "Our distributor list was updated last week; happy to share it.",
    "Could you prioritise this one? It is selling fast before the holidays.",
)
AGENT_REPLIES = (
    "Thanks, please attach the test-buy photos by hash to this case.",
    "Noted; we will look at it today.",
)
COUNTER_STATEMENTS = (
    "These are genuine goods bought from the brand's distributor; invoices attached.",
    "I am an authorised reseller; the takedown is a mistake.",
    "The product is my own design and does not use the brand's mark.",
)


# -- what the simulation keeps of them -------------------------------------------------------


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
    identified: Authenticity | None = None
    """The brand's answer to an identification request, if it gave one."""
