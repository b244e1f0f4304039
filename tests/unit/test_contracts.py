"""The published contract is generated from the event models and committed; it must not go stale."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from consumers.envelope import encode
from domain.catalog import ce_type, event_classes
from ntd.contracts import asyncapi, render, stale_files

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def test_the_committed_contracts_match_the_event_models() -> None:
    stale = stale_files(CONTRACTS)

    assert not stale, f"contracts/ is stale, run scripts/contracts: {stale}"


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
    document = asyncapi()
    messages = document["components"]["messages"]

    for cls in event_classes():
        schema = json.loads((CONTRACTS / "schemas" / f"{ce_type(cls)}.json").read_text())
        Draft202012Validator.check_schema(schema)
        assert ce_type(cls).replace(".", "_") in messages
    assert document["asyncapi"] == "3.0.0"
    assert {c["address"] for c in document["channels"].values()} == {
        "ntd.case.v1",
        "ntd.notifier.v1",
        "ntd.seller.v1",
    }


def test_a_real_kafka_value_validates_against_its_published_schema() -> None:
    from domain.application import NtdApplication
    from domain.notifier import NotifierKind
    from domain.values import Actor, RightType

    app = NtdApplication()
    agent = Actor.parse("agent:x")
    notifier = app.register_notifier("Acme", NotifierKind.BRAND, "legal@acme.example", agent)
    app.register_right(notifier, RightType.TRADEMARK, "TM-1", "EU", "ab" * 32, agent)

    for notification in app.notification_log.select(1, 10):
        message = encode(app.mapper.to_domain_event(notification), notification.id)
        assert message is not None
        headers = dict(message.headers)
        schema = json.loads(
            (CONTRACTS / "schemas" / f"{headers['ce_type'].decode()}.json").read_text()
        )
        errors = list(Draft202012Validator(schema).iter_errors(json.loads(message.value)))
        assert not errors, errors[0].message
