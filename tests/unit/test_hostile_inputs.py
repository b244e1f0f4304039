"""Hostile inputs to the CLI: each is refused with one `ntd: error:` line naming the input, an
exit code from the documented set, no traceback, and the stores unchanged (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner, Result

from domain.case import Case, Evidence, Lane, Listing, ReasonCode
from domain.values import Actor, ActorKind, RightType, identifier
from ntd.cli import cli
from ntd.cli.render import escape
from ntd.cli.render_case import case_view
from tests.unit.test_cli import (  # noqa: F401  (fixtures used by name)
    ALICE,
    JEANNE,
    ROOT,
    SELLER,
    brand_with_right,
    data_dir,
    error_lines,
    filed,
    notice_file,
    ok,
    run,
    staff,
    stored_events,
)

ESC = "\x1b"


def events() -> int:
    """How many events the test's embedded store holds."""
    return stored_events(Path(os.environ["NTD_DATA_DIR"]))


def refused(result: Result, code: int, *words: str) -> str:
    """The one error line of a refused command, holding every word given."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    [line] = error_lines(result)
    for word in words:
        assert word in line, line
    assert result.stdout == ""
    return line


def template(tmp_path: Path, notifier: str, right: str, **changes: object) -> dict[str, object]:
    return dict(json.loads(notice_file(tmp_path, notifier, right, **changes).read_text()))


@pytest.fixture
def brand(tmp_path: Path, staff: None) -> tuple[str, str]:  # noqa: F811
    return brand_with_right(tmp_path)


# -- reading: size, encoding, JSON -------------------------------------------------------------


def test_a_notice_file_that_is_not_utf8_is_one_line_naming_the_file(
    tmp_path: Path,
    brand: tuple[str, str],  # noqa: F811
) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(json.dumps(template(tmp_path, *brand)).encode()[:-1] + b', "x": "\xe9"}')
    before = events()
    result = run("notice", "file", "--json", str(path), "--as", JEANNE)
    refused(result, 2, str(path), "not UTF-8", "0xe9")
    assert events() == before


def test_json_on_stdin_that_is_not_utf8_is_one_line() -> None:
    stdin = b'{"explanation": "caf\xe9"}'
    result = CliRunner().invoke(cli, ["notice", "file", "--json", "-", "--as", JEANNE], stdin)
    refused(result, 2, "standard input", "not UTF-8", "offset 20")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[" * 200_000 + "]" * 200_000, ("nested too deeply",)),
        ('{"explanation": ' + "7" * 5000 + "}", ("digits",)),
        ("{not json", ("not JSON", "line 1 column 2")),
    ],
    ids=["deep-nesting", "huge-number", "broken"],
)
def test_adversarial_json_is_one_line(text: str, words: tuple[str, ...]) -> None:
    result = run("notice", "file", "--json", "-", "--as", JEANNE, input=text)
    refused(result, 2, "--json", *words)


def test_a_notice_file_beyond_the_input_limit_is_refused_unread(
    tmp_path: Path,
    brand: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    path = tmp_path / "padded.json"
    path.write_text(json.dumps(template(tmp_path, *brand)) + " " * 5000)  # valid, but large
    monkeypatch.setenv("NTD_MAX_INPUT_BYTES", "4000")
    before = events()
    refused(run("notice", "file", "--json", str(path), "--as", JEANNE), 2, "larger than 4,000")
    assert events() == before
    monkeypatch.delenv("NTD_MAX_INPUT_BYTES")
    assert ok("notice", "file", "--json", str(path), "--as", JEANNE, "-q").strip()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_given_as_the_notice_is_read_no_further_than_the_limit() -> None:
    result = run("notice", "file", "--json", "/dev/zero", "--as", JEANNE)
    refused(result, 2, "/dev/zero", "larger than 2,000,000 bytes")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_given_as_a_certificate_is_hashed_no_further_than_the_limit(
    brand: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setenv("NTD_MAX_CERTIFICATE_BYTES", "1000000")
    before = events()
    args = ("--type", "trademark", "--number", "77", "--jurisdiction", "EU")
    result = run(
        "notifier", "add-right", brand[0], *args, "--certificate", "/dev/zero", "--as", JEANNE
    )
    refused(result, 2, "/dev/zero", "larger than 1,000,000 bytes")
    assert events() == before


def test_a_certificate_beyond_the_limit_is_refused(
    tmp_path: Path, brand: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    certificate = tmp_path / "huge.pdf"
    certificate.write_bytes(b"%PDF" + b"0" * 300_000)
    monkeypatch.setenv("NTD_MAX_CERTIFICATE_BYTES", "200000")
    args = ("--type", "trademark", "--number", "78", "--jurisdiction", "EU")
    result = run(
        "notifier", "add-right", brand[0], *args, "--certificate", str(certificate), "--as", JEANNE
    )
    refused(result, 2, str(certificate), "larger than 200,000")


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("NTD_HOLIDAYS_FILE", "/dev/zero", ("NTD_HOLIDAYS_FILE", "larger than")),
        ("NTD_RULES", "[" * 100_000, ("NTD_RULES", "nested too deeply")),
        ("NTD_RULES", '{"counter_notice_days": ' + "9" * 5000 + "}", ("NTD_RULES", "digits")),
        (
            "NTD_RULES",
            '{"counter_notice_days": 1000000000}',
            ("NTD_RULES", "counter_notice_days", "less than or equal to 260"),
        ),
        ("NTD_NOW", "1970-01-01T00:00Z", ("NTD_NOW", "outside the years 2000-2200")),
        ("NTD_NOW", "9999-12-31T23:59:59Z", ("NTD_NOW", "outside the years")),
        ("NTD_MAX_INPUT_BYTES", "9" * 40, ("NTD_MAX_INPUT_BYTES", "must be from 1")),
        ("NTD_TIME_MAX_YEAR", "9999", ("NTD_TIME_MAX_YEAR", "must be from 1900 to 9000")),
        ("NTD_KAFKA_BOOTSTRAP", ":::", ("NTD_KAFKA_BOOTSTRAP", "HOST:PORT")),
    ],
    ids=[
        "holidays-device",
        "rules-nesting",
        "rules-huge",
        "rules-days",
        "now-1970",
        "now-9999",
        "limit-huge",
        "max-year",
        "kafka-bootstrap",
    ],
)
def test_a_hostile_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: tuple[str, ...]
) -> None:
    if value == "/dev/zero" and not Path(value).exists():
        pytest.skip("needs /dev/zero")
    monkeypatch.setenv(name, value)
    refused(run("config"), 2, *words)


def test_config_lists_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NTD_MAX_INPUT_BYTES", "12345")
    out = ok("config")
    for name in ("NTD_MAX_INPUT_BYTES", "NTD_MAX_CERTIFICATE_BYTES", "NTD_TIME_MIN_YEAR"):
        assert name in out
    assert "max input bytes" in out and "12345" in out


# -- numbers and times in options -------------------------------------------------------------

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(
    "args",
    [
        ("case", "list", "--limit", HUGE, "--as", ALICE),
        ("audit", "query", "--limit", HUGE, "--as", ALICE),
        ("case", "history", str(uuid4()), "--version", HUGE, "--as", ALICE),
        ("notifier", "suspend", str(uuid4()), "--reason", "x", "--days", HUGE, "--as", ALICE),
        ("tokens", "create", JEANNE, "--expires-days", HUGE, "--as", ROOT),
    ],
    ids=["case-list", "audit-query", "case-history", "notifier-suspend", "tokens-create"],
)
def test_a_number_beyond_64_bits_in_an_option_is_a_range_error(args: tuple[str, ...]) -> None:
    refused(run(*args), 2, HUGE, "range")


@pytest.mark.parametrize(
    "args",
    [
        ("case", "list", "--due-before", "0001-01-01", "--as", ALICE),
        ("audit", "query", "--until", "9999-12-31T23:59:59.999999", "--as", ALICE),
        ("case", "history", str(uuid4()), "--as-of", "9999-12-31T23:59:59-01:00", "--as", ALICE),
        ("access", "list", "--as-of", "1970-01-01", "--as", ALICE),
        ("deadlines", "list", "--until", "0001-01-01T00:00+01:00", "--as", ALICE),
        ("dashboard", "--now", "9999-01-01", "--as", ALICE),
    ],
    ids=["due-before", "until", "as-of", "access-as-of", "until-tz", "dashboard-now"],
)
def test_a_time_outside_the_accepted_years_is_refused_where_it_is_read(
    args: tuple[str, ...],
) -> None:
    refused(run(*args), 2, "outside the years")


def test_the_accepted_years_are_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NTD_TIME_MIN_YEAR", "2030")
    refused(run("audit", "query", "--since", "2026-01-01", "--as", ALICE), 2, "2030-2200")


def test_an_extreme_now_is_refused_and_every_later_command_still_works(
    filed: dict[str, str],  # noqa: F811
) -> None:
    """A --now near datetime's end used to be accepted, and every later catch-up overflowed."""
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    before = events()
    for extreme in ("9999-12-31T23:59:59Z", "9999-12-20T00:00Z", "2300-01-01"):
        result = run("deadlines", "run", "--now", extreme, "--rehearsal", "--as", ROOT)
        refused(result, 2, "outside the years")
    assert events() == before
    assert "taken_down" in ok("case", "show", case, "--as", ALICE)
    assert case in ok("case", "list", "--as", ALICE)
    ok("projections", "rebuild", "--all")
    assert "taken_down" in ok("case", "show", case, "--as", ALICE)


# -- notices: caps and ids ---------------------------------------------------------------------


def test_a_notice_with_too_many_evidence_items_is_refused(
    tmp_path: Path,
    brand: tuple[str, str],  # noqa: F811
) -> None:
    data = template(tmp_path, *brand)
    item = dict(data["evidence"][0])  # type: ignore[index]
    data["evidence"] = [{**item, "reference": f"photo {n}"} for n in range(21)]
    before = events()
    result = run("notice", "file", "--json", "-", "--as", JEANNE, input=json.dumps(data))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "evidence:" in result.stderr and "at most 20 items" in result.stderr
    assert events() == before


def _with_listing_id(tmp_path: Path, brand: tuple[str, str], listing_id: str) -> str:
    data = template(tmp_path, *brand)
    listing = dict(data["listings"][0])  # type: ignore[index]
    data["listings"] = [{**listing, "listing_id": listing_id}]
    return json.dumps(data)


def test_nfc_and_nfd_spellings_of_a_listing_id_open_one_case(
    tmp_path: Path, brand: tuple[str, str]
) -> None:
    nfc = unicodedata.normalize("NFC", "Café-B0912")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    first = _with_listing_id(tmp_path, brand, nfc)
    second = _with_listing_id(tmp_path, brand, nfd)
    case = ok("notice", "file", "--json", "-", "--as", JEANNE, "-q", input=first).strip()
    again = ok("notice", "file", "--json", "-", "--as", JEANNE, input=second)
    assert "0 new case" in again and case in again


@pytest.mark.parametrize(
    ("listing_id", "words"),
    [
        (f"B0912{ESC}[2J{ESC}[31mPWNED", ("control character U+001B",)),
        ("B0912\nFAKE", ("control character U+000A",)),
        ("   ", ("shows nothing",)),
        ("\u200b\u200b", ("shows nothing",)),
        ("\u2060\ufeff\u00a0", ("shows nothing",)),
    ],
    ids=["escape", "newline", "spaces", "zero-width", "invisible-mix"],
)
def test_a_listing_id_with_controls_or_nothing_visible_is_refused(
    tmp_path: Path,
    brand: tuple[str, str],
    listing_id: str,
    words: tuple[str, ...],  # noqa: F811
) -> None:
    before = events()
    result = run(
        "notice",
        "file",
        "--json",
        "-",
        "--as",
        JEANNE,
        input=_with_listing_id(tmp_path, brand, listing_id),
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "listings:" in result.stderr and all(word in result.stderr for word in words)
    assert ESC not in result.stderr
    assert events() == before


@pytest.mark.parametrize("who", [f"agent:eve{ESC}[31m", "agent:\u200b", "seller:\t"])
def test_an_actor_id_with_controls_or_nothing_visible_is_refused(who: str) -> None:
    result = run("case", "list", "--as", who)
    refused(result, 2, "is not an actor")


@pytest.mark.fast
def test_an_id_is_kept_in_nfc() -> None:
    assert identifier(unicodedata.normalize("NFD", "Zoë")) == unicodedata.normalize("NFC", "Zoë")
    assert identifier("a\u200db") == "a\u200db"  # a joiner inside a visible id is a spelling


# -- output ------------------------------------------------------------------------------------


@pytest.mark.fast
def test_the_case_view_writes_no_raw_escape_sequence() -> None:
    """A case stored before ids were checked still shows its id, escaped."""
    hostile = f"B0912{ESC}]0;owned\a{ESC}[2J\u202eevil"
    listing = Listing(
        marketplace="marketly",
        listing_id=hostile,
        url="https://marketly.example/item/1",
        seller_id=f"s{ESC}[5m",
    )
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    case = Case.file(
        uuid4(),
        uuid4(),
        uuid4(),
        uuid4(),
        RightType.TRADEMARK,
        listing,
        ReasonCode.COUNTERFEIT,
        "explained at length",
        (Evidence(kind="photo", reference="r", sha256="0" * 64),),
        Lane.NORMAL,
        Actor(kind=ActorKind.NOTIFIER_USER, id="j"),
        at,
    )
    shown = case_view(case, list(case.collect_events()), "Aurelia", at)
    assert ESC not in shown and "\a" not in shown and "\u202e" not in shown
    assert "B0912\\x1b]0;owned\\x07\\x1b[2J\\u202eevil" in shown and "s\\x1b[5m" in shown


@pytest.mark.fast
def test_escape_keeps_line_breaks_tabs_and_printable_text() -> None:
    assert escape("a\tb\nc — ü 漢字") == "a\tb\nc — ü 漢字"
    assert escape("\x00\x7f\x9b") == "\\x00\\x7f\\x9b"


@pytest.mark.parametrize("seller", [f"marketly/luxe{ESC}[31m", "marketly/\u200b", " /luxe"])
def test_a_seller_key_with_controls_or_nothing_visible_is_refused(seller: str) -> None:
    refused(run("case", "list", "--seller", seller, "--as", ALICE), 2, "--seller")


def test_a_court_reference_with_a_control_character_is_refused(
    filed: dict[str, str],  # noqa: F811
) -> None:
    case = filed["case"]
    ok("case", "take-down", case, "--facts", "Counterfeit", "--as", ALICE)
    ok("case", "counter-notice", case, "--statement", "Mine", "--as", SELLER)
    ok("case", "forward", case, "--as", ALICE)
    before = events()
    court = ("--court", "LG München I", "--as", JEANNE)
    result = run("case", "report-litigation", case, "--reference", f"33 O{ESC}[8m 1/26", *court)
    refused(result, 1, "reference holds the control character U+001B")
    assert events() == before


@pytest.mark.parametrize("territory", ["Germany", "D" * 100_000, "1x"])
def test_a_territory_that_is_not_a_country_code_is_refused(
    filed: dict[str, str],  # noqa: F811
    territory: str,
) -> None:
    before = events()
    args = ("--facts", "Counterfeit", "--territory", "de", "--territory", territory)
    result = run("case", "take-down", filed["case"], *args, "--as", ALICE)
    refused(result, 2, "territorial_scope.1")
    assert events() == before


@pytest.mark.usefixtures("staff")
@pytest.mark.parametrize(
    ("name", "words"),
    [(f"Aurelia{ESC}[2J", "control character U+001B"), ("\u200b \u200b", "shows nothing")],
)
def test_a_notifier_name_with_controls_or_nothing_visible_is_refused(name: str, words: str) -> None:
    before = events()
    args = ("--name", name, "--kind", "brand", "--email", "legal@aurelia.example")
    refused(run("notifier", "register", *args, "--as", "agent:onboarding"), 1, words)
    assert events() == before


def test_nfc_and_nfd_spellings_of_a_registration_number_are_one_right(
    tmp_path: Path, brand: tuple[str, str]
) -> None:
    certificate = tmp_path / "c.pdf"
    certificate.write_bytes(b"%PDF certificate")
    number = unicodedata.normalize("NFC", "Nº-Ø-é1")
    args = ("--type", "design", "--jurisdiction", "EU", "--certificate", str(certificate))
    ok("notifier", "add-right", brand[0], "--number", number, *args, "--as", JEANNE)
    nfd = unicodedata.normalize("NFD", number)
    refused(
        run("notifier", "add-right", brand[0], "--number", nfd, *args, "--as", JEANNE),
        1,
        "already registered",
    )


def test_a_named_pipe_no_one_writes_to_is_read_as_empty_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "holidays.fifo"
    os.mkfifo(fifo)
    env = {**os.environ, "NTD_HOLIDAYS_FILE": str(fifo), "NTD_DATA_DIR": str(tmp_path / "d")}

    shown = subprocess.run(
        [sys.executable, "-m", "ntd", "config"], env=env, capture_output=True, text=True, timeout=60
    )
    notice = subprocess.run(
        [sys.executable, "-m", "ntd", "notice", "file", "--json", str(fifo), "--as", JEANNE],
        env={**env, "NTD_HOLIDAYS_FILE": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert shown.returncode == 0, shown.stderr
    assert notice.returncode == 2, notice.stderr
    assert f"{fifo} is not JSON" in notice.stderr.splitlines()[0], notice.stderr


def test_an_empty_certificate_digest_is_refused_in_one_line(brand: tuple[str, str]) -> None:
    before = events()
    args = ("--type", "patent", "--number", "X123", "--jurisdiction", "EU")

    result = run("notifier", "add-right", brand[0], *args, "--certificate-sha256=", "--as", JEANNE)

    assert result.exit_code in (1, 2), result.output
    refused(result, result.exit_code, "certificate")
    assert events() == before


def test_a_read_store_with_sqlite_s_header_but_damaged_pages_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = tmp_path / "garbage.db"
    damaged.write_bytes(b"SQLite format 3\0" + b"\xff" * 4000)
    monkeypatch.setenv("NTD_READ_DSN", f"sqlite:///{damaged}")

    line = refused(run("case", "list", "--as", ROOT), 2, str(damaged), "NTD_READ_DSN", "damaged")

    assert "unexpected failure" not in line


def test_an_event_store_cut_in_half_is_named_not_an_unexpected_failure(
    brand: tuple[str, str],
) -> None:
    store = Path(os.environ["NTD_DATA_DIR"]) / "events.db"
    with open(store, "r+b") as file:
        file.truncate(store.stat().st_size // 2)

    result = run("notifier", "list", "--as", ALICE)

    assert result.exit_code in (1, 2), result.output
    [line] = error_lines(result)
    assert "damaged" in line and "unexpected failure" not in line, line


def test_serve_on_a_host_name_no_resolver_can_encode_is_one_line() -> None:
    result = run("serve", "--host", "a" * 100, "--port", "8999")

    assert result.exit_code != 0
    [line] = error_lines(result)
    assert "not an address of this machine" in line, line


def test_a_device_named_as_the_read_store_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NTD_READ_DSN", "sqlite:////dev/null")

    refused(run("case", "list", "--as", ROOT), 2, "/dev/null", "not a regular file")


def test_a_read_dsn_of_no_known_scheme_is_named_by_the_policies_too(
    brand: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NTD_READ_DSN", "\ufb01le")  # "ﬁle", a ligature: no scheme ntd knows

    refused(run("policies", "run", "--replay", "--as", ROOT), 2, "NTD_READ_DSN", "is not one of")
