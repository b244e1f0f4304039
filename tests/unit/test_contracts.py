"""The published contract is generated from the event models, committed inside the
consumers.contracts package (read with importlib.resources), and must not go stale; every
message's ce_dataschema is the absolute URI that its schema's $id states."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator

from consumers import contracts
from consumers.contracts import DEFAULT_SCHEMA_BASE, check_schema_base, schema_uri
from consumers.envelope import encode
from consumers.relay_pages import InlinePages, ProcessPages
from domain.catalog import ce_type, event_classes, is_published
from ntd.bootstrap import FixedClock, build, build_relay, open_log_pages
from ntd.config import ConfigError, Settings
from ntd.contracts import SOURCE_DIR, asyncapi, main, render, stale_files

OTHER_BASE = "https://schemas.shop.example/ntd/v1/"


def _registered_events(app: Any) -> None:
    """A notifier and its right registered by an agent, after the roles that allow it: two
    published events, after the internal ones granting the roles."""
    from domain.access import Grant
    from domain.notifier import NotifierKind
    from domain.values import Actor, RightType, Role

    admin, agent = Actor.parse("agent:root"), Actor.parse("agent:x")
    app.name_first_admin(admin)
    app.grant_role(agent, Grant(role=Role.AGENT), admin)
    notifier = app.register_notifier("Acme", NotifierKind.BRAND, "legal@acme.example", agent)
    app.register_right(notifier, RightType.TRADEMARK, "TM-1", "EU", "ab" * 32, agent)


def _published(app: Any) -> list[Any]:
    """The stored notifications of published events (granting roles stores internal ones)."""
    return [n for n in app.recorder.select_notifications(1, 100) if is_published(n.topic)]


def test_the_shipped_contracts_match_the_event_models() -> None:
    stale = stale_files(contracts.root())

    assert not stale, f"consumers/contracts/ is stale, run scripts/contracts: {stale}"


def test_the_contracts_live_in_the_consumers_contracts_package() -> None:
    assert Path(str(contracts.root())) == SOURCE_DIR
    assert (SOURCE_DIR / "asyncapi.json").is_file()
    assert not (SOURCE_DIR.parents[1] / "contracts").exists(), "the old top-level contracts/"
    assert contracts.schema_types() == sorted(ce_type(cls) for cls in event_classes())
    assert contracts.asyncapi() == asyncapi()


def test_a_changed_model_makes_the_contracts_stale(tmp_path: Path) -> None:
    for relative, text in render().items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    victim = tmp_path / "schemas" / "ntd.case.filed.v1.json"
    victim.write_text(victim.read_text().replace('"listing"', '"listing_ref"'))
    (tmp_path / "schemas" / "ntd.case.gone.v1.json").write_text("{}")

    assert stale_files(tmp_path) == [
        "schemas/ntd.case.filed.v1.json",
        "schemas/ntd.case.gone.v1.json",
    ]


def test_every_published_event_has_a_valid_json_schema_and_an_asyncapi_message() -> None:
    document = contracts.asyncapi()
    messages = document["components"]["messages"]

    for cls in event_classes():
        schema = contracts.schema(ce_type(cls))
        Draft202012Validator.check_schema(schema)
        assert ce_type(cls).replace(".", "_") in messages
    assert document["asyncapi"] == "3.0.0"
    assert {c["address"] for c in document["channels"].values()} == {
        "ntd.case.v1",
        "ntd.notifier.v1",
        "ntd.seller.v1",
    }


def test_an_unknown_event_type_has_no_schema() -> None:
    with pytest.raises(KeyError, match="ntd.case.nothing.v1"):
        contracts.schema("ntd.case.nothing.v1")


def test_a_real_kafka_value_validates_against_its_published_schema_named_by_its_header() -> None:
    from domain.application import NtdApplication

    app = NtdApplication()
    _registered_events(app)

    published = _published(app)
    assert len(published) == 2
    for notification in published:
        message = encode(app.mapper.to_domain_event(notification), notification.id)
        assert message is not None
        headers = {name: value.decode() for name, value in message.headers}
        schema = contracts.schema(headers["ce_type"])
        assert headers["ce_dataschema"] == schema["$id"]
        errors = list(Draft202012Validator(schema).iter_errors(json.loads(message.value)))
        assert not errors, errors[0].message


def test_every_schema_id_is_an_absolute_uri_under_the_default_base() -> None:
    for name in contracts.schema_types():
        schema_id = contracts.schema(name)["$id"]

        assert schema_id == f"{DEFAULT_SCHEMA_BASE}{name}.json"
        assert urlsplit(schema_id).scheme == "https" and urlsplit(schema_id).netloc


def test_the_dataschema_header_and_the_schema_id_follow_a_configured_base() -> None:
    from domain.application import NtdApplication

    app = NtdApplication()
    _registered_events(app)
    notification = _published(app)[0]

    message = encode(app.mapper.to_domain_event(notification), notification.id, OTHER_BASE)

    assert message is not None
    headers = {name: value.decode() for name, value in message.headers}
    assert headers["ce_dataschema"] == f"{OTHER_BASE}{headers['ce_type']}.json"
    rendered = json.loads(render(OTHER_BASE)[f"schemas/{headers['ce_type']}.json"])
    assert rendered["$id"] == headers["ce_dataschema"] == schema_uri(headers["ce_type"], OTHER_BASE)


@pytest.mark.parametrize(
    "base",
    [
        DEFAULT_SCHEMA_BASE,
        "http://127.0.0.1:8080/schemas/",
        "file:///srv/ntd/contracts/schemas/",
        "urn:ntd:schemas:",
    ],
)
def test_an_absolute_base_is_accepted(base: str) -> None:
    assert check_schema_base(base) == base


@pytest.mark.parametrize(
    ("base", "why"),
    [
        ("contracts/schemas/", "not an absolute URI"),
        ("/srv/schemas/", "not an absolute URI"),
        ("", "not an absolute URI"),
        ("https://", "names no host"),
        ("https:///schemas/", "names no host"),
        ("https://ntd.example.org/schemas", "must end with '/'"),
        ("https://ntd.example.org/schemas/?v=1", "query or fragment"),
        ("https://ntd.example.org/sch emas/", "white space"),
        ("1http://x/", "not an absolute URI"),
    ],
)
def test_a_base_that_is_not_an_absolute_uri_is_refused(base: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_schema_base(base)


def test_the_setting_defaults_to_the_documented_base_and_validates_what_is_set(
    tmp_path: Path,
) -> None:
    env = {"NTD_DATA_DIR": str(tmp_path)}

    assert Settings.from_env(env).schema_base == DEFAULT_SCHEMA_BASE
    assert Settings(data_dir=tmp_path).schema_base == DEFAULT_SCHEMA_BASE
    custom = Settings.from_env(env | {"NTD_SCHEMA_BASE_URI": OTHER_BASE})
    assert custom.schema_base == OTHER_BASE
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env | {"NTD_SCHEMA_BASE_URI": "contracts/schemas/"})
    assert str(refused.value).startswith("NTD_SCHEMA_BASE_URI: 'contracts/schemas/' is not")
    assert "\n" not in str(refused.value)


def test_the_cli_names_a_wrong_base_in_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from ntd.cli import cli

    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NTD_SCHEMA_BASE_URI", "schemas/")
    result = CliRunner().invoke(cli, ["relay", "--help"])  # help needs no settings
    assert result.exit_code == 0
    result = CliRunner().invoke(cli, ["config"])

    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "ntd: error: NTD_SCHEMA_BASE_URI: 'schemas/' is not an absolute URI"
        f" (e.g. {DEFAULT_SCHEMA_BASE})"
    ]


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Any:
    settings = Settings(
        data_dir=tmp_path, read_dsn=f"sqlite:///{tmp_path / 'r.db'}", schema_base=OTHER_BASE
    )
    system = build(settings, clock=FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    _registered_events(system.app)
    yield settings
    system.close()


def _dataschemas(pages: InlinePages | ProcessPages) -> list[str]:
    page = pages.next(1, 100)
    assert page is not None
    return [dict(m.headers)["ce_dataschema"].decode() for m in page.messages]


@pytest.mark.parametrize("encoder_process", [False, True])
def test_the_relay_puts_the_configured_base_in_ce_dataschema(
    sqlite_settings: Settings, encoder_process: bool
) -> None:
    system = build(sqlite_settings)
    relay = build_relay(system, encoder_process=encoder_process)
    try:
        pages = relay.pages
        assert isinstance(pages, ProcessPages if encoder_process else InlinePages)
        if isinstance(pages, ProcessPages):
            assert pages.schema_base == OTHER_BASE
            assert isinstance(pages.inline, InlinePages)
            pages = pages.inline
        assert _dataschemas(pages) == [
            f"{OTHER_BASE}ntd.notifier.registered.v1.json",
            f"{OTHER_BASE}ntd.notifier.right_registered.v1.json",
        ]
    finally:
        relay.close()
        system.close()


def test_the_encoder_process_puts_its_base_in_ce_dataschema(sqlite_settings: Settings) -> None:
    default = ProcessPages(functools.partial(open_log_pages, sqlite_settings))
    other = ProcessPages(functools.partial(open_log_pages, sqlite_settings), schema_base=OTHER_BASE)
    try:
        assert _dataschemas(default) == [
            f"{DEFAULT_SCHEMA_BASE}ntd.notifier.registered.v1.json",
            f"{DEFAULT_SCHEMA_BASE}ntd.notifier.right_registered.v1.json",
        ]
        assert _dataschemas(other) == [
            f"{OTHER_BASE}ntd.notifier.registered.v1.json",
            f"{OTHER_BASE}ntd.notifier.right_registered.v1.json",
        ]
    finally:
        default.close()
        other.close()


def test_scripts_contracts_regenerates_with_another_base_and_refuses_a_relative_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--base", OTHER_BASE, str(tmp_path)]) == 0
    written = json.loads((tmp_path / "schemas" / "ntd.case.filed.v1.json").read_text())
    assert written["$id"] == f"{OTHER_BASE}ntd.case.filed.v1.json"
    assert main(["--check", "--base", OTHER_BASE, str(tmp_path)]) == 0
    capsys.readouterr()

    assert main(["--check", str(tmp_path)]) == 1
    assert "run scripts/contracts" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["--base", "contracts/schemas/", str(tmp_path)])
    assert refused.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("scripts/contracts: error: argument --base: 'contracts/schemas/' is")
