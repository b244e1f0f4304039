"""CloudEvents 1.0 over Kafka (protocol binding, binary mode): how one event travels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pydantic_core
from pydantic import BaseModel, ValidationError

from domain.catalog import aggregate_type, ce_type, resolve_ce_type, topic_for
from domain.mapping import upcast
from domain.values import DomainEvent

SPEC_VERSION = "1.0"
SOURCE = "urn:ntd:enforcement"
CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A message that is not a valid ntd CloudEvent; the text says what is wrong."""


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the producer."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers
    ce_id: str


@dataclass(frozen=True)
class Incoming:
    """A decoded message: the domain event and its envelope facts."""

    event: DomainEvent
    ce_id: str
    ce_type: str
    notification_id: int | None


def event_id(aggregate_id: object, version: int) -> str:
    """The stable id of one event: aggregate id and version, the same on every re-send."""
    return f"{aggregate_id}:{version}"


def encode(event: BaseModel, notification_id: int) -> Outgoing | None:
    """The Kafka message for a stored event, or None for internal events that are not published."""
    cls = type(event)
    aggregate = aggregate_type(cls)
    if aggregate is None:
        return None
    fields: Any = event
    cid = event_id(fields.originator_id, fields.originator_version)
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", cid.encode()),
        ("ce_source", SOURCE.encode()),
        ("ce_type", ce_type(cls).encode()),
        ("ce_time", fields.timestamp.isoformat().encode()),
        ("ce_subject", str(fields.originator_id).encode()),
        ("ce_dataschema", f"contracts/schemas/{ce_type(cls)}.json".encode()),
        ("content-type", CONTENT_TYPE.encode()),
        ("ntd_notification_id", str(notification_id).encode()),
    ]
    return Outgoing(
        topic=topic_for(aggregate),
        key=str(fields.originator_id).encode(),
        value=event.model_dump_json().encode(),
        headers=headers,
        ce_id=cid,
    )


def decode(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> Incoming:
    """Read a message back into its domain event; raises EnvelopeError naming the problem."""
    found = {name: (raw or b"").decode("utf-8", "replace") for name, raw in headers}
    for required in ("ce_specversion", "ce_id", "ce_type", "ce_source"):
        if not found.get(required):
            raise EnvelopeError(f"missing CloudEvents header {required}")
    if found["ce_specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported ce_specversion {found['ce_specversion']!r}")
    try:
        cls = resolve_ce_type(found["ce_type"])
    except KeyError:
        raise EnvelopeError(f"unknown ce_type {found['ce_type']!r}") from None
    if value is None:
        raise EnvelopeError("message has no value")
    try:
        state = pydantic_core.from_json(value)
        if not isinstance(state, dict):
            raise EnvelopeError("value is not a JSON object")
        event = cls.model_validate(upcast(cls, state))
    except ValueError as error:
        if isinstance(error, ValidationError):
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:5]
            )
            raise EnvelopeError(f"{found['ce_type']} payload invalid: {problems}") from None
        raise EnvelopeError(f"value is not JSON: {error}") from None
    expected = event_id(event.originator_id, event.originator_version)
    if found["ce_id"] != expected:
        raise EnvelopeError(f"ce_id {found['ce_id']!r} does not match the payload ({expected})")
    notification = found.get("ntd_notification_id")
    return Incoming(
        event=event,
        ce_id=found["ce_id"],
        ce_type=found["ce_type"],
        notification_id=int(notification) if notification and notification.isdigit() else None,
    )
