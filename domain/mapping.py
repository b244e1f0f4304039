"""How pydantic domain events become stored events and back, with upcasting of old versions."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import pydantic_core
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent
from eventsourcing.utils import get_topic
from pydantic import BaseModel

from domain.catalog import event_class
from domain.values import CorruptEvent

ORIGINATOR_FIELDS: set[str] = {"originator_id", "originator_version"}  # never changed


def event_payload(event: BaseModel) -> bytes:
    """The JSON payload of an event: the stored state, the Kafka value, one serialisation."""
    return event.model_dump_json(exclude=ORIGINATOR_FIELDS).encode()


_VERSIONS: dict[type[Any], int] = {}


def class_version(cls: type[Any]) -> int:
    """The event class's version (1 unless it says otherwise); a missing class attribute is
    slow to look up on pydantic models, and every stored event asks."""
    version = _VERSIONS.get(cls)
    if version is None:
        version = _VERSIONS[cls] = int(getattr(cls, "class_version", 1))
    return version


def with_originator(
    cls: type[Any], state: bytes, originator_id: object, version: int
) -> bytes | None:
    """The event's full JSON from a stored state (its JSON without the originator fields), or
    None when the state needs more than that: upcasting (the class is past version 1, so the
    state may be older), or it is not plain JSON."""
    if not _current_json(cls, state):
        return None
    return _head(str(originator_id), version) + state[1:]


def _current_json(cls: type[Any], state: bytes) -> bool:
    """Whether a stored state is a JSON object in the class's current shape (version 1)."""
    return class_version(cls) == 1 and len(state) >= 3 and state[:1] == b"{"


def _head(originator_id: str, version: int) -> bytes:
    return b'{"originator_id":"%s","originator_version":%d,' % (originator_id.encode(), version)


def stored_payload(cls: type[Any], state: bytes) -> str | None:
    """The event's payload as text straight from its stored state (the JSON event_payload wrote
    when it was stored), or None when it has to be serialised again: the class is past version 1
    (the state may be older), or the state is not plain JSON."""
    if not _current_json(cls, state):
        return None
    try:
        return state.decode()
    except UnicodeDecodeError:
        return None


def published_payload(cls: type[Any], value: bytes, originator_id: str, version: int) -> str | None:
    """The payload inside a message value that is the event's JSON with its originator fields
    first (as `with_originator` writes it), or None when the value is not in that form."""
    head = _head(originator_id, version)
    if class_version(cls) != 1 or not value.startswith(head) or len(value) <= len(head):
        return None
    try:
        return "{" + value[len(head) :].decode()
    except UnicodeDecodeError:
        return None


def upcast(cls: type[Any], state: dict[str, Any]) -> dict[str, Any]:
    """Bring a stored state written by an older class version up to the current one.

    An event class evolves by raising `class_version` and adding one static method per step,
    `upcast_v1_v2(state)`, `upcast_v2_v3(state)`, ..., each changing the state dict in place.
    """
    version = state.pop("class_version", 1)
    current = class_version(cls)
    while version < current:
        step = f"upcast_v{version}_v{version + 1}"
        upcaster = getattr(cls, step, None)
        if upcaster is None:
            raise TypeError(
                f"{cls.__qualname__} is at class_version {current} but has no {step}(state) "
                f"to read events stored at version {version}"
            )
        upcaster(state)
        version += 1
    return state


class PydanticMapper(Mapper[UUID]):
    """Stores each event as its pydantic JSON; reads it back through the same model."""

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        event = cast(BaseModel, domain_event)
        payload = event_payload(event)
        version = class_version(type(event))
        if version > 1:
            payload = payload[:-1] + b',"class_version":' + str(version).encode() + b"}"
        if self.compressor:
            payload = self.compressor.compress(payload)
        if self.cipher:
            payload = self.cipher.encrypt(payload)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(event)),
            state=payload,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """The event a stored event holds; CorruptEvent, naming the stored event, when it is
        not one ntd wrote (a foreign topic, a state its class does not read)."""
        where = f"{stored_event.originator_id} version {stored_event.originator_version}"
        try:
            return self._decoded(stored_event)
        except CorruptEvent as error:
            raise CorruptEvent(f"the stored event of {where} is corrupt: {error}") from None
        except (ValueError, TypeError) as error:  # pydantic's ValidationError is a ValueError
            reason = str(error).splitlines()[0][:200]
            raise CorruptEvent(f"the stored event of {where} is corrupt: {reason}") from None

    def _decoded(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        cls: Any = event_class(stored_event.topic)
        whole = with_originator(
            cls, state, stored_event.originator_id, stored_event.originator_version
        )
        if whole is not None:  # one pass in pydantic-core, about twice as fast as a dict
            return cast(DomainEventProtocol[UUID], cls.model_validate_json(whole))
        fields = upcast(cls, pydantic_core.from_json(state))
        return cast(
            DomainEventProtocol[UUID],
            cls(
                originator_id=stored_event.originator_id,
                originator_version=stored_event.originator_version,
                **fields,
            ),
        )
