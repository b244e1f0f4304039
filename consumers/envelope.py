"""CloudEvents 1.0 over Kafka (protocol binding, binary mode): how one event travels."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import pydantic_core
from eventsourcing.persistence import Mapper, Notification
from pydantic import BaseModel, ValidationError

from consumers.contracts import DEFAULT_SCHEMA_BASE, schema_uri
from consumers.partitioning import key_hash
from consumers.stored import stored_class
from domain.catalog import aggregate_type, ce_type, resolve_ce_type, topic_for
from domain.mapping import class_version, published_payload, upcast, with_originator
from domain.values import DomainEvent

SPEC_VERSION = "1.0"
SOURCE = "urn:ntd:enforcement"
CONTENT_TYPE = "application/json"
SOURCE_BYTES = SOURCE.encode()
CONTENT_TYPE_BYTES = CONTENT_TYPE.encode()
Headers = list[tuple[str, bytes]]


class EnvelopeError(ValueError):
    """A message that is not a valid ntd CloudEvent; the text says what is wrong."""


class Outgoing(NamedTuple):
    """A message ready for the producer."""

    topic: str
    key: bytes
    value: bytes
    headers: Headers
    ce_id: str
    key_hash: int
    """The key's partitioning hash: the message goes to partition key_hash % partitions."""


@dataclass(frozen=True)
class Incoming:
    """A decoded message: the domain event and its envelope facts."""

    event: DomainEvent
    ce_id: str
    ce_type: str
    notification_id: int | None
    payload: str | None = None
    """The event's JSON as the value carries it, without the originator fields (the stored
    state), when the value has the form the relay writes; None otherwise."""


def event_id(aggregate_id: object, version: int) -> str:
    """The stable id of one event: aggregate id and version, the same on every re-send."""
    return f"{aggregate_id}:{version}"


@dataclass(frozen=True)
class _Kind:
    """What every message of one event class shares."""

    cls: type[DomainEvent]
    topic: str
    ce_type: bytes
    dataschema: bytes


@functools.cache
def _kind(cls: type[Any], schema_base: str = DEFAULT_SCHEMA_BASE) -> _Kind | None:
    aggregate = aggregate_type(cls)
    if aggregate is None:
        return None
    name = ce_type(cls)
    return _Kind(cls, topic_for(aggregate), name.encode(), schema_uri(name, schema_base).encode())


def _message(
    kind: _Kind, subject: str, version: int, at: datetime, value: bytes, notification_id: int
) -> Outgoing:
    cid = event_id(subject, version)
    key = subject.encode()
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", cid.encode()),
        ("ce_source", SOURCE_BYTES),
        ("ce_type", kind.ce_type),
        ("ce_time", at.isoformat().encode()),
        ("ce_subject", key),
        ("ce_dataschema", kind.dataschema),
        ("content-type", CONTENT_TYPE_BYTES),
        ("ntd_notification_id", str(notification_id).encode()),
    ]
    return Outgoing(kind.topic, key, value, headers, cid, key_hash(key))


def encode(
    event: BaseModel, notification_id: int, schema_base: str = DEFAULT_SCHEMA_BASE
) -> Outgoing | None:
    """The Kafka message for a domain event, or None for internal events that are not published.
    Its `ce_dataschema` is the schema's absolute URI under `schema_base`."""
    kind = _kind(type(event), schema_base)
    if kind is None:
        return None
    e = cast(DomainEvent, event)
    value = event.model_dump_json().encode()
    return _message(
        kind, str(e.originator_id), e.originator_version, e.timestamp, value, notification_id
    )


def encode_stored(
    notification: Notification, mapper: Mapper[Any], schema_base: str = DEFAULT_SCHEMA_BASE
) -> Outgoing:
    """The Kafka message for a stored published event, validated against its model on the way.

    The stored state is the event's JSON without the originator fields, so the value is that JSON
    with them put back: the same bytes `encode` would produce, without a decode/encode round trip.
    Raises (for parking) when the stored event does not validate."""
    plain = not (mapper.cipher or mapper.compressor)
    subject, version = str(notification.originator_id), notification.originator_version
    cls = stored_class(notification)
    kind = _kind(cls, schema_base)
    value = with_originator(cls, notification.state, subject, version) if plain else None
    if value is not None and kind is not None:
        at = cls.model_validate_json(value).timestamp
        return _message(kind, subject, version, at, value, notification.id)
    event = cast(BaseModel, mapper.to_domain_event(notification))
    message = encode(event, notification.id, schema_base)
    if message is None:
        raise EnvelopeError(f"{notification.topic} is not a published event")
    return message


def _notification_id(text: str | None) -> int | None:
    """The header's notification id, or None unless it is ASCII digits ("²".isdigit() too)."""
    return int(text) if text and text.isascii() and text.isdigit() else None


_READ_HEADERS = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ntd_notification_id")


def _validated(cls: type[DomainEvent], value: bytes, name: str, stated: int) -> DomainEvent:
    """The event in a message's value, written at version `stated` of its class: one pass in
    pydantic-core when that is the class's current version, else upcast first."""
    try:
        if stated == class_version(cls):
            return cls.model_validate_json(value)
        state = pydantic_core.from_json(value)
        if not isinstance(state, dict):
            raise EnvelopeError("value is not a JSON object")
        state["class_version"] = stated
        try:
            upcast(cls, state)
        except Exception as error:  # an old value an upcaster cannot read: the message is bad
            raise EnvelopeError(f"{name} payload cannot be upcast: {error!r}") from None
        return cls.model_validate(state)
    except ValidationError as error:
        problems = error.errors()
        first = problems[0] if problems else None
        if first is not None and first["type"] == "json_invalid":
            raise EnvelopeError(f"value is not JSON: {first['msg']}") from None
        if first is not None and first["type"] == "model_type" and not first["loc"]:
            raise EnvelopeError("value is not a JSON object") from None
        listed = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in problems[:5])
        raise EnvelopeError(f"{name} payload invalid: {listed}") from None
    except ValueError as error:
        raise EnvelopeError(f"value is not JSON: {error}") from None


def decode(value: bytes | None, headers: Sequence[tuple[str, bytes | None]]) -> Incoming:
    """Read a message back into its domain event; raises EnvelopeError naming the problem."""
    raw_headers = dict(headers)
    found = {
        name: (raw_headers.get(name) or b"").decode("utf-8", "replace") for name in _READ_HEADERS
    }
    for required in ("ce_specversion", "ce_id", "ce_type", "ce_source"):
        if not found[required]:
            raise EnvelopeError(f"missing CloudEvents header {required}")
    if found["ce_specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"unsupported ce_specversion {found['ce_specversion']!r}")
    try:
        cls, stated = resolve_ce_type(found["ce_type"])
    except KeyError:
        raise EnvelopeError(f"unknown ce_type {found['ce_type']!r}") from None
    current = class_version(cls)
    if not 1 <= stated <= current:
        raise EnvelopeError(
            f"ce_type {found['ce_type']!r} states a version this reader does not know"
            f" (it knows v1 to v{current})"
        )
    if value is None:
        raise EnvelopeError("message has no value")
    event = _validated(cls, value, found["ce_type"], stated)
    subject, version = str(event.originator_id), event.originator_version
    expected = event_id(subject, version)
    if found["ce_id"] != expected:
        raise EnvelopeError(f"ce_id {found['ce_id']!r} does not match the payload ({expected})")
    notification = found.get("ntd_notification_id")
    return Incoming(
        event=event,
        ce_id=found["ce_id"],
        ce_type=found["ce_type"],
        notification_id=_notification_id(notification),
        payload=published_payload(cls, value, subject, version),
    )
