"""`ntd transparency archive`: per notice what the public may see, and no personal data. A
property test files notices whose every personal field (the filer's id and signature, the
contact's name and email, the notifier's email, the seller's id and users, the listing's URL
and id, the counter-notice and messages) holds generated values, and finds none of them in the
archive, in any letter case."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from domain.access import Grant, SellerKey
from domain.notice import parse_notice
from domain.notifier import NotifierKind
from domain.values import Actor, ActorKind, RightType, Role
from ntd.bootstrap import Ntd, build
from ntd.cli import CONTEXT, cli
from ntd.cli.kit import NtdGroup
from ntd.cli.transparency import transparency
from ntd.config import ConfigError, Settings
from ntd.demo import run_demo
from ntd.reads import catch_up
from ntd.transparency import source
from ntd.transparency.archive import Pseudonyms, host, notices
from ntd.transparency.keys import archive_key
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    AUDITOR,
    CERTIFICATE,
    FakeClock,
    grant_cast,
    listing_data,
    notice_data,
    reasons,
)

KEY = b"k" * 32
DEMO_AUDITOR = Actor.parse("agent:audit.kim")
ROOT = (
    cli
    if "transparency" in cli.commands
    else NtdGroup(
        "ntd",
        callback=cli.callback,
        params=cli.params,
        commands={**cli.commands, "transparency": transparency},
        context_settings=CONTEXT,
    )
)


@pytest.fixture
def system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ntd]:
    """The real system on an embedded store of its own, the domain tests' cast granted."""
    for name in list(os.environ):
        if name.startswith("NTD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path / "ntd"))
    monkeypatch.setenv("NTD_LOG_FORMAT", "json")
    ntd = build(Settings.from_env(), clock=FakeClock())
    grant_cast(ntd.app)
    try:
        yield ntd
    finally:
        ntd.close()


def archive_text(ntd: Ntd, key: bytes = KEY, reader: Actor = AUDITOR) -> str:
    records = notices(source.rows(ntd, reader, catch_up), Pseudonyms(key))
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records)


# -- generated personal data ----------------------------------------------------------------------

# Letters g-z only: a value can then never be read inside a uuid, a hash or a pseudonym (hex),
# nor inside the archive's own words by chance, so finding one means it was copied.
WORD = st.text("ghijklmnopqrstuvwxyz", min_size=4, max_size=10)
NAME = st.builds(lambda a, b: f"{a.title()} {b.title()}", WORD, WORD)
EMAIL = st.builds(lambda a, b: f"{a}@{b}.example", WORD, WORD)
USER = st.builds(lambda a, b: f"{a}.{b}", WORD, WORD)
SELLER_ID = st.builds(lambda a, n: f"{a}-{n}", WORD, st.integers(10, 99_999))
PATH = st.builds(lambda a, b: f"/{a}/{b}", WORD, WORD)


@dataclass(frozen=True)
class People:
    """The personal values of one notice."""

    filer: str
    contact_name: str
    contact_email: str
    notifier_email: str
    signature: str
    seller_id: str
    seller_user: str
    listing_id: str
    path: str
    counter_notice: str
    message: str

    @property
    def url(self) -> str:
        return f"https://shop.example{self.path}?ref={self.listing_id}"

    def values(self) -> list[str]:
        return [
            self.filer,
            self.contact_name,
            self.contact_email,
            self.notifier_email,
            self.signature,
            self.seller_id,
            self.seller_user,
            self.listing_id,
            self.path,
            self.url,
            self.counter_notice,
            self.message,
        ]


JANE = People(
    filer="jane.moreau",
    contact_name="Jane Moreau",
    contact_email="jane.moreau@aurelia.example",
    notifier_email="legal.desk@aurelia.example",
    signature="/s/ Jane Moreau",
    seller_id="luxe-deals-88",
    seller_user="omar.luxe",
    listing_id="B0912-7731",
    path="/u/luxe-deals-88/item/B0912-7731",
    counter_notice="I am Omar Haddad and these goods are genuine",
    message="Please write to omar@luxe.example",
)
"""Personal values as a person would type them."""

PEOPLE = st.builds(
    People,
    filer=USER,
    contact_name=NAME,
    contact_email=EMAIL,
    notifier_email=EMAIL,
    signature=st.builds(lambda n: f"/s/ {n}", NAME),
    seller_id=SELLER_ID,
    seller_user=USER,
    listing_id=st.builds(lambda a, n: f"{a.upper()}{n}", WORD, st.integers(100, 999_999)),
    path=PATH,
    counter_notice=st.builds(lambda n: f"I am {n} and these goods are genuine", NAME),
    message=st.builds(lambda e: f"Please write to {e}", EMAIL),
)


def file_with(ntd: Ntd, people: People, number: int) -> People:
    """A notifier, a right, a notice filed by a user of the notifier, its case taken down, a
    counter-notice by a user of the seller, a message: every personal field filled. The seller
    and listing get the notice's number (a `q` before it), so two notices never share them.
    The values used."""
    people = replace(
        people,
        seller_id=f"{people.seller_id}q{number}",
        seller_user=f"{people.seller_user}q{number}",
        listing_id=f"{people.listing_id}Q{number}",
    )
    app = ntd.app
    notifier = app.register_notifier(
        f"Acme Brand {number}", NotifierKind.BRAND, people.notifier_email, AGENT
    )
    right = app.register_right(
        notifier, RightType.TRADEMARK, f"TM-{number}", "eu", CERTIFICATE, AGENT
    )
    app.verify_right(notifier, right, AGENT)
    filer = Actor(kind=ActorKind.NOTIFIER_USER, id=people.filer)
    app.grant_role(filer, Grant(role=Role.REPORTER, notifier_id=notifier), ADMIN)
    listing = listing_data(people.listing_id, url=people.url, seller_id=people.seller_id)
    data = notice_data(
        notifier,
        right,
        [listing],
        submitted_by=people.filer,
        contact={"name": people.contact_name, "email": people.contact_email},
        signature=people.signature,
    )
    case = app.file_notice(parse_notice(data), filer).cases[0].case_id
    app.post_message(case, people.message, (), filer)
    app.take_down(case, reasons(), AGENT)
    seller = Actor(kind=ActorKind.SELLER, id=people.seller_user)
    key = SellerKey(marketplace="shop.example", seller_ref=people.seller_id)
    app.grant_role(seller, Grant(role=Role.SELLER_USER, seller=key), ADMIN)
    app.counter_notice(case, people.counter_notice, True, seller)
    return people


def leaked(text: str, values: list[str]) -> list[str]:
    folded = text.casefold()
    return [v for v in values if v.casefold() in folded]


def test_no_personal_value_of_any_stored_event_reaches_the_archive(system: Ntd) -> None:
    filed: list[str] = []

    @settings(  # no shrinking: the store keeps every example's notice, so a smaller one
        # would not be a simpler case; the failing values are printed whole instead
        max_examples=40,
        deadline=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(people=PEOPLE)
    def one_more_notice(people: People) -> None:
        filed.extend(file_with(system, people, len(filed)).values())
        text = archive_text(system)
        assert leaked(text, filed) == []
        assert "shop.example" in text  # the listing's marketplace host is public

    one_more_notice()
    records = [json.loads(line) for line in archive_text(system).splitlines()]
    assert len(records) >= 40
    assert all(r["counts"]["counter_notices"] == 1 for r in records)
    assert all(r["listings"][0]["decision"] == "taken_down" for r in records)


def test_a_notice_shows_its_public_facts(system: Ntd) -> None:
    people = file_with(system, JANE, 1)
    (record,) = [json.loads(line) for line in archive_text(system).splitlines()]
    assert record["notifier"] == {"name": "Acme Brand 1", "kind": "brand"}
    assert record["right"] == {"type": "trademark", "jurisdiction": "EU"}
    assert record["reason_code"] == "counterfeit"
    assert record["filed_on"] == "2031-03-03" and record["last_decided_on"] == "2031-03-03"
    (listing,) = record["listings"]
    assert listing["marketplace"] == "shop.example"
    assert listing["seller"] == Pseudonyms(KEY)("shop.example", people.seller_id)
    assert listing["ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert listing["legal_ground"] == reasons().legal_ground
    assert record["counts"] == {
        "listings": 1,
        "counter_notices": 1,
        "by_state": {listing["state"]: 1},
    }


@pytest.mark.fast
def test_a_seller_pseudonym_is_stable_under_a_key_and_differs_under_another() -> None:
    same = Pseudonyms(KEY)("shop.example", "luxe-deals-88")
    assert same == Pseudonyms(KEY)("shop.example", "luxe-deals-88")
    assert same != Pseudonyms(b"j" * 32)("shop.example", "luxe-deals-88")
    assert same != Pseudonyms(KEY)("shop.example", "luxe-deals-89")
    assert "luxe" not in same


@pytest.mark.fast
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://shop.example/item/B0912-7731?ref=mail", "shop.example"),
        ("https://jane:secret@Shop.Example:8443/u/jane-doe/listing", "shop.example"),
        ("http://[not a host", "unknown"),
    ],
)
def test_a_listing_url_shrinks_to_its_host(url: str, shown: str) -> None:
    assert host(url) == shown


@pytest.mark.fast
def test_the_key_file_is_made_once_private_and_refused_when_others_may_read_it(
    tmp_path: Path,
) -> None:
    key = archive_key(tmp_path, environ={})
    path = tmp_path / "archive.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert archive_key(tmp_path, environ={}) == key
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        archive_key(tmp_path, environ={})


@pytest.mark.fast
def test_the_key_may_come_from_the_environment_but_not_a_short_one(tmp_path: Path) -> None:
    assert archive_key(tmp_path, environ={"NTD_ARCHIVE_KEY": "z" * 40}) == b"z" * 40
    assert not (tmp_path / "archive.key").exists()
    with pytest.raises(ConfigError, match="at least 32"):
        archive_key(tmp_path, environ={"NTD_ARCHIVE_KEY": "short"})


def run(*args: str) -> Result:
    result = CliRunner().invoke(ROOT, ["transparency", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert "Traceback" not in result.output
    return result


def test_the_command_writes_the_archive_complete_or_not_at_all(system: Ntd, tmp_path: Path) -> None:
    people = file_with(system, JANE, 1)
    out = tmp_path / "archive.json"
    result = run("archive", "--format", "json", "--out", str(out), "--as", str(AUDITOR))
    assert result.exit_code == 0, result.output
    (record,) = json.loads(out.read_text())
    assert record["notifier"]["name"] == "Acme Brand 1"
    assert leaked(out.read_text(), people.values()) == []
    assert [p.name for p in out.parent.iterdir() if p.name.endswith(".part")] == []


@pytest.mark.parametrize(
    "who",
    [
        "agent:alice",  # an agent and a supervisor: reads cases, not the public archive's source
        "seller:seller-1",
        "notifier_user:bob",
    ],
)
def test_only_auditors_and_admins_may_export_the_archive(system: Ntd, who: str) -> None:
    result = run("archive", "--as", who)
    assert result.exit_code == 1 and result.stdout == ""
    assert "may not" in result.stderr
    assert not (Path(os.environ["NTD_DATA_DIR"]) / "archive.key").exists()


def personal_values(ntd: Ntd, reader: Actor) -> dict[str, set[str]]:
    """Every personal value the stored events hold, by field: the sworn parts of each filing,
    the listing's seller, URL and id, the notifiers' emails, the ids of notifiers' and sellers'
    users, and what sellers and notifiers wrote."""
    found: dict[str, set[str]] = {}

    def keep(field: str, value: object) -> None:
        if isinstance(value, str) and value:
            found.setdefault(field, set()).add(value)

    for row in source.rows(ntd, reader, catch_up):
        data = source.payload(row)
        if (row.aggregate_type, row.event_type) == ("case", "filed"):
            sworn = data.get("sworn") or {}
            keep("submitted_by", sworn.get("submitted_by"))
            keep("signature", sworn.get("signature"))
            keep("contact name", (sworn.get("contact") or {}).get("name"))
            keep("contact email", (sworn.get("contact") or {}).get("email"))
            for field in ("seller_id", "url", "listing_id"):
                keep(field, data["listing"][field])
        if (row.aggregate_type, row.event_type) == ("notifier", "registered"):
            keep("notifier email", data.get("contact_email"))
        for field in ("statement", "text", "answer", "basis"):
            keep(field, data.get(field))
        kind, _, who = row.actor.partition(":")
        if kind in (ActorKind.NOTIFIER_USER, ActorKind.SELLER):
            keep(f"{kind} id", who)
    return found


def test_the_demos_archive_holds_none_of_its_personal_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("NTD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path / "ntd"))
    monkeypatch.setenv("NTD_LOG_FORMAT", "json")
    settings = Settings.from_env()
    run_demo(settings, size=0.05, seed=5)
    ntd = build(settings)
    try:
        values = personal_values(ntd, DEMO_AUDITOR)
        text = archive_text(ntd, reader=DEMO_AUDITOR)
    finally:
        ntd.close()
    assert {"submitted_by", "signature", "contact name", "seller_id", "url"} <= set(values)
    assert {field: leaked(text, sorted(found)) for field, found in values.items()} == {
        field: [] for field in values
    }
