"""The published event contract: JSON Schema per event and an AsyncAPI 3.0 document, generated
from the same pydantic models that the store and the relay use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from domain.catalog import PUBLISHED, aggregate_type, ce_type, event_classes, topic_for
from domain.values import DomainEvent

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
HEADER_DOCS = {
    "ce_specversion": "CloudEvents spec version, always 1.0",
    "ce_id": "stable event id: aggregate id and version (`<uuid>:<version>`); dedupe on it",
    "ce_source": "urn:ntd:enforcement",
    "ce_type": "event type and contract version, e.g. ntd.case.taken_down.v1",
    "ce_time": "when it happened (RFC 3339)",
    "ce_subject": "the aggregate id (the case id for case events)",
    "ce_dataschema": "path of the payload's JSON Schema in contracts/",
    "content-type": "application/json",
    "ntd_notification_id": "position in ntd's global event log (increasing, may have gaps)",
}


def event_schema(event_class: type[DomainEvent]) -> dict[str, Any]:
    """The JSON Schema of one event's Kafka value."""
    schema = event_class.model_json_schema(mode="serialization")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"contracts/schemas/{ce_type(event_class)}.json",
        **schema,
        "title": ce_type(event_class),
        "description": (event_class.__doc__ or "").strip()
        or f"{event_class.__name__} of a {aggregate_type(event_class)}",
    }


def asyncapi() -> dict[str, Any]:
    """The AsyncAPI 3.0 document describing ntd's topics and messages."""
    headers = {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_subject"],
        "properties": {
            name: {"type": "string", "description": doc} for name, doc in HEADER_DOCS.items()
        },
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for aggregate in PUBLISHED:
        channel_messages = {}
        for cls in event_classes():
            if aggregate_type(cls) != aggregate:
                continue
            name = ce_type(cls).replace(".", "_")
            messages[name] = {
                "name": ce_type(cls),
                "title": cls.__name__,
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
                "payload": {"$ref": f"schemas/{ce_type(cls)}.json"},
                "bindings": {"kafka": {"key": {"type": "string", "format": "uuid"}}},
            }
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channels[aggregate] = {
            "address": topic_for(aggregate),
            "description": f"Every {aggregate} event, keyed by {aggregate} id (per-key order).",
            "messages": channel_messages,
        }
        operations[f"publish_{aggregate}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{aggregate}"},
            "summary": f"The ntd relay publishes {aggregate} events after they are stored.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ntd notice-and-takedown events",
            "version": "1.0.0",
            "description": "CloudEvents 1.0, Kafka protocol binding, binary mode. At-least-once: "
            "deduplicate on ce_id. Order is guaranteed per aggregate (the message key).",
        },
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:9092", "protocol": "kafka"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"CloudEventHeaders": headers}},
    }


def render() -> dict[str, str]:
    """Every contract file, path relative to contracts/ → its text."""
    files = {f"schemas/{ce_type(cls)}.json": _dump(event_schema(cls)) for cls in event_classes()}
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def write(root: Path) -> list[Path]:
    """Regenerate contracts/ under root; returns the files written."""
    files = render()
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    for stale in (root / "schemas").glob("*.json"):
        if f"schemas/{stale.name}" not in files:
            stale.unlink()
    return written


def stale_files(root: Path) -> list[str]:
    """Contract files that differ from what the models generate (empty when up to date)."""
    expected = render()
    problems = [
        rel
        for rel, text in expected.items()
        if not (root / rel).exists() or (root / rel).read_text() != text
    ]
    present = {f"schemas/{p.name}" for p in (root / "schemas").glob("*.json")}
    problems += sorted(present - set(expected))
    return problems


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m ntd.contracts [--check] [DIR]`: regenerate, or check that DIR is up to date."""
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/contracts", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument("dir", nargs="?", default="contracts", type=Path)
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name}")
        if stale:
            print("contracts are stale: run scripts/contracts")
        return 1 if stale else 0
    written = write(args.dir)
    print(f"wrote {len(written)} files to {args.dir}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
