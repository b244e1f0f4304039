"""The published event contract: JSON Schema per event and an AsyncAPI 3.0 document, generated
from the same pydantic models that the store and the relay use, into the `consumers.contracts`
package (shipped in the wheel, read with importlib.resources)."""

from __future__ import annotations

import json
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from consumers.contracts import DEFAULT_SCHEMA_BASE, check_schema_base, schema_uri
from consumers.topics import EVENT_TOPICS
from domain.catalog import aggregate_type, ce_type, event_classes
from domain.values import DomainEvent

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
HEADER_DOCS = {
    "ce_specversion": "CloudEvents spec version, always 1.0",
    "ce_id": "stable event id: aggregate id and version (`<uuid>:<version>`); dedupe on it",
    "ce_source": "urn:ntd:enforcement",
    "ce_type": "event type and contract version, e.g. ntd.case.taken_down.v1",
    "ce_time": "when it happened (RFC 3339)",
    "ce_subject": "the aggregate id (the case id for case events)",
    "ce_dataschema": "absolute URI of the payload's JSON Schema (its $id): the schema base"
    " (NTD_SCHEMA_BASE_URI) followed by `<ce_type>.json`",
    "content-type": "application/json",
    "ntd_notification_id": "position in ntd's global event log (increasing, may have gaps)",
}


def event_schema(event_class: type[DomainEvent], base: str = DEFAULT_SCHEMA_BASE) -> dict[str, Any]:
    """The JSON Schema of one event's Kafka value; its `$id` is the URI under `base` that the
    relay puts in `ce_dataschema`."""
    schema = event_class.model_json_schema(mode="serialization")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": schema_uri(ce_type(event_class), base),
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
    for topic in EVENT_TOPICS:
        aggregate = topic.aggregate
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
            "address": topic.name,
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


def render(base: str = DEFAULT_SCHEMA_BASE) -> dict[str, str]:
    """Every contract file, path relative to the contracts directory → its text."""
    files = {
        f"schemas/{ce_type(cls)}.json": _dump(event_schema(cls, base)) for cls in event_classes()
    }
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def write(root: Path, base: str = DEFAULT_SCHEMA_BASE) -> list[Path]:
    """Regenerate the contract files under root; returns the files written."""
    files = render(base)
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


def stale_files(root: Traversable, base: str = DEFAULT_SCHEMA_BASE) -> list[str]:
    """Contract files under root (a directory, or `consumers.contracts.root()`) that differ from
    what the models generate with this schema base (empty when up to date)."""
    expected = render(base)
    problems = [
        rel
        for rel, text in expected.items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    schemas = root / "schemas"
    present = (
        {f"schemas/{p.name}" for p in schemas.iterdir() if p.name.endswith(".json")}
        if schemas.is_dir()
        else set()
    )
    problems += sorted(present - set(expected))
    return problems


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


SOURCE_DIR = Path(__file__).resolve().parents[1] / "consumers" / "contracts"
"""Where the committed contract files live: the `consumers.contracts` package."""


def main(argv: list[str] | None = None) -> int:
    """`python -m ntd.contracts [--check] [--base URI] [DIR]`: regenerate the contract files, or
    check that they are up to date."""
    import argparse

    def base_uri(text: str) -> str:
        try:
            return check_schema_base(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser = argparse.ArgumentParser(prog="scripts/contracts", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    parser.add_argument(
        "--base",
        type=base_uri,
        default=DEFAULT_SCHEMA_BASE,
        metavar="URI",
        help="absolute URI the schemas' $id (and the relay's ce_dataschema) start with; "
        f"the committed files use the default, {DEFAULT_SCHEMA_BASE}",
    )
    parser.add_argument(
        "dir",
        nargs="?",
        default=SOURCE_DIR,
        type=Path,
        help="where the files go (default: the consumers/contracts package)",
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir, args.base)
        for name in stale:
            print(f"stale: {args.dir / name}")
        if stale:
            again = "" if args.base == DEFAULT_SCHEMA_BASE else f" --base {args.base}"
            print(f"contracts are stale: run scripts/contracts{again}")
        return 1 if stale else 0
    written = write(args.dir, args.base)
    print(f"wrote {len(written)} files to {args.dir}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
