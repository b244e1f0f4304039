"""Evolving an event: old stored streams replay into the new shape through upcasters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from consumers import envelope
from domain import catalog, mapping
from domain.application import NtdApplication
from domain.catalog import event_classes
from domain.mapping import (
    event_payload,
    published_payload,
    stored_payload,
    upcast,
    with_originator,
)
from domain.notifier import Notifier, NotifierKind
from domain.values import Actor, EventSourced
from tests.unit.domain_fixtures import AGENT, MONDAY, make_app

pytestmark = pytest.mark.fast

upcasts: list[str] = []
"""Which upcasters ran, so a test can tell that current events are not upcast again."""


class Gadget(EventSourced):
    """A stand-in aggregate whose events went through a rename and an added field."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.colour: str | None = None
        self.finish: str | None = None

    class Made(EventSourced.Created):
        """v1 had `name`; v2 calls it `label`."""

        class_version = 2
        label: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            upcasts.append("Made v1→v2")
            state["label"] = state.pop("name")

    class Painted(EventSourced.Event):
        """v1 had `color`; v2 spells it `colour`; v3 adds `finish`."""

        class_version = 3
        colour: str
        finish: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            upcasts.append("Painted v1→v2")
            state["colour"] = state.pop("color")

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            upcasts.append("Painted v2→v3")
            state["finish"] = "matte"

        def apply(self, gadget: Gadget) -> None:
            gadget.colour = self.colour
            gadget.finish = self.finish

    @classmethod
    def make(cls, label: str, actor: Actor, at: datetime) -> Gadget:
        return cls._create(cls.Made, id=uuid4(), label=label, actor=actor, timestamp=at)

    def paint(self, colour: str, finish: str, actor: Actor, at: datetime) -> None:
        self.record(self.Painted, actor, at, colour=colour, finish=finish)


catalog.register(Gadget)  # a stored topic is resolved against the catalogue only


class OldPainted(EventSourced.Event):
    """`Gadget.Painted` as the first release declared it."""

    color: str


@pytest.fixture(autouse=True)
def _forget_upcasts() -> None:
    upcasts.clear()


def _old_json(**fields: Any) -> bytes:
    base = {"timestamp": MONDAY.isoformat(), "actor": {"kind": "agent", "id": "alice"}}
    return json.dumps({**base, **fields}).encode()


def _store_v1_stream(app: NtdApplication) -> UUID:
    """Write a gadget's stream exactly as the first release stored it, past the mapper."""
    gadget_id = uuid4()
    old_painted = OldPainted(
        originator_id=gadget_id, originator_version=2, timestamp=MONDAY, actor=AGENT, color="red"
    )
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=gadget_id,
                originator_version=1,
                topic=get_topic(Gadget.Made),
                state=_old_json(originator_topic=get_topic(Gadget), name="widget"),
            ),
            StoredEvent(
                originator_id=gadget_id,
                originator_version=2,
                topic=get_topic(Gadget.Painted),
                state=event_payload(old_painted),
            ),
        ]
    )
    return gadget_id


def test_an_event_stored_by_the_first_release_carries_no_class_version() -> None:
    old = OldPainted(
        originator_id=uuid4(), originator_version=2, timestamp=MONDAY, actor=AGENT, color="red"
    )

    assert set(json.loads(event_payload(old))) == {"timestamp", "actor", "color"}


@pytest.mark.parametrize("persistence", ["popo", pytest.param("sqlite", marks=pytest.mark.sqlite)])
def test_a_stream_stored_in_the_old_shape_replays_into_the_new_one(
    persistence: str, tmp_path: Path
) -> None:
    env = {
        "PERSISTENCE_MODULE": f"eventsourcing.{persistence}",
        "SQLITE_DBNAME": str(tmp_path / "ntd.db"),
    }
    app = make_app(env=env)
    gadget_id = _store_v1_stream(app)
    if persistence == "sqlite":
        app = make_app(env=env)  # a later release reading the same file

    gadget = app.repository.get(gadget_id)

    assert isinstance(gadget, Gadget)
    assert (gadget.label, gadget.colour, gadget.finish) == ("widget", "red", "matte")
    assert (gadget.version, gadget.modified_on) == (2, MONDAY)
    assert upcasts == ["Made v1→v2", "Painted v1→v2", "Painted v2→v3"]


def test_an_old_stored_event_reads_back_as_an_event_of_the_current_class() -> None:
    app = make_app()
    gadget_id = _store_v1_stream(app)

    made, painted = app.events.get(gadget_id)

    assert type(made) is Gadget.Made and made.label == "widget"
    assert type(painted) is Gadget.Painted
    assert (painted.colour, painted.finish, painted.actor, painted.timestamp) == (
        "red",
        "matte",
        AGENT,
        MONDAY,
    )


def test_new_events_are_stored_with_their_class_version_and_are_not_upcast_again() -> None:
    app = make_app()
    gadget = Gadget.make("widget", AGENT, MONDAY)
    gadget.paint("blue", "gloss", AGENT, MONDAY)
    app.save(gadget)

    stored = app.recorder.select_events(gadget.id)
    assert [json.loads(s.state)["class_version"] for s in stored] == [2, 3]

    again = app.repository.get(gadget.id)
    assert (again.label, again.colour, again.finish) == ("widget", "blue", "gloss")
    assert upcasts == []


def test_an_event_stored_at_an_intermediate_version_runs_only_the_later_upcasters() -> None:
    state = {"colour": "green", "class_version": 2}

    assert upcast(Gadget.Painted, state) == {"colour": "green", "finish": "matte"}
    assert upcasts == ["Painted v2→v3"]


def test_old_and_new_events_of_one_stream_replay_together() -> None:
    app = make_app()
    gadget_id = _store_v1_stream(app)
    gadget = app.repository.get(gadget_id)

    gadget.paint("blue", "gloss", AGENT, MONDAY)
    app.save(gadget)

    assert app.repository.get(gadget_id).colour == "blue"
    assert app.repository.get(gadget_id, version=2).colour == "red"


def test_a_class_version_without_its_upcaster_fails_naming_the_missing_method() -> None:
    class Careless(EventSourced.Event):
        class_version = 2
        colour: str

    with pytest.raises(TypeError, match=r"Careless is at class_version 2 but has no upcast_v1_v2"):
        upcast(Careless, {"color": "red"})


def test_every_published_event_declares_a_class_version() -> None:
    versions = {cls.__qualname__: cls.class_version for cls in event_classes()}

    assert versions
    assert all(isinstance(v, int) and v >= 1 for v in versions.values())
    assert all("class_version" not in cls.model_fields for cls in event_classes())


def test_the_one_pass_read_is_only_taken_for_states_that_need_no_upcasting() -> None:
    old = OldPainted(
        originator_id=uuid4(), originator_version=2, timestamp=MONDAY, actor=AGENT, color="red"
    )
    state = event_payload(old)

    assert with_originator(Gadget.Painted, state, old.originator_id, 2) is None  # version 3
    whole = with_originator(OldPainted, state, old.originator_id, 2)
    assert whole is not None and OldPainted.model_validate_json(whole) == old
    assert with_originator(OldPainted, b"not json", old.originator_id, 2) is None


def test_a_stored_state_is_the_audit_payload_only_when_it_needs_no_upcasting() -> None:
    old = OldPainted(
        originator_id=uuid4(), originator_version=2, timestamp=MONDAY, actor=AGENT, color="red"
    )
    state = event_payload(old)

    assert stored_payload(OldPainted, state) == state.decode()
    assert stored_payload(Gadget.Painted, state) is None  # version 3: the state may be older
    assert stored_payload(OldPainted, b"\x80not json") is None


def test_a_message_value_gives_its_payload_only_in_the_form_the_relay_writes() -> None:
    old = OldPainted(
        originator_id=uuid4(), originator_version=2, timestamp=MONDAY, actor=AGENT, color="red"
    )
    state, subject = event_payload(old), str(old.originator_id)
    value = with_originator(OldPainted, state, old.originator_id, 2)
    assert value is not None

    assert published_payload(OldPainted, value, subject, 2) == state.decode()
    assert published_payload(Gadget.Painted, value, subject, 2) is None  # upcast first
    assert published_payload(OldPainted, value, subject, 3) is None  # another version's head
    assert published_payload(OldPainted, value, str(uuid4()), 2) is None
    spaced = value.replace(b'{"originator_id":', b'{ "originator_id":', 1)
    assert published_payload(OldPainted, spaced, subject, 2) is None


# -- over Kafka: a message states the version it was written at in its ce_type -----------------


@pytest.fixture
def registered_at_v2(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Notifier.Registered as if it had evolved: version 1 called the name `title`."""
    ran: list[str] = []

    def upcast_v1_v2(state: dict[str, Any]) -> None:
        ran.append("Registered v1→v2")
        state["name"] = state.pop("title")

    monkeypatch.setattr(Notifier.Registered, "class_version", 2)
    monkeypatch.setattr(
        Notifier.Registered, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False
    )
    monkeypatch.setattr(mapping, "_VERSIONS", {})
    envelope._kind.cache_clear()
    yield ran
    envelope._kind.cache_clear()


def _registered() -> Notifier.Registered:
    return Notifier.Registered(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=MONDAY,
        actor=AGENT,
        originator_topic=get_topic(Notifier),
        name="Aurelia",
        kind=NotifierKind.BRAND,
        contact_email="legal@aurelia.example",
    )


def _as_written_at(message: envelope.Outgoing, version: int, **renamed: str) -> tuple[bytes, Any]:
    """The message as a relay of class version `version` wrote it."""
    state = json.loads(message.value)
    for new, old in renamed.items():
        state[old] = state.pop(new)
    headers = [
        (k, v.replace(b".v2", f".v{version}".encode()) if k == "ce_type" else v)
        for k, v in message.headers
    ]
    return json.dumps(state).encode(), headers


def test_a_message_of_the_current_version_is_read_as_it_is(registered_at_v2: list[str]) -> None:
    event = _registered()
    message = envelope.encode(event, 7)
    assert message is not None and dict(message.headers)["ce_type"].endswith(b".v2")

    incoming = envelope.decode(message.value, message.headers)

    assert incoming.event == event and registered_at_v2 == []


def test_a_message_written_before_the_class_evolved_is_upcast(registered_at_v2: list[str]) -> None:
    event = _registered()
    message = envelope.encode(event, 7)
    assert message is not None

    incoming = envelope.decode(*_as_written_at(message, 1, name="title"))

    assert incoming.event == event and registered_at_v2 == ["Registered v1→v2"]
    assert incoming.payload is None  # its JSON is not the current shape: serialised again


def test_a_message_newer_than_the_reader_or_beyond_its_upcasters_is_refused(
    registered_at_v2: list[str],
) -> None:
    message = envelope.encode(_registered(), 7)
    assert message is not None

    with pytest.raises(envelope.EnvelopeError, match="does not know"):
        envelope.decode(*_as_written_at(message, 3))
    with pytest.raises(envelope.EnvelopeError, match="cannot be upcast"):
        envelope.decode(*_as_written_at(message, 1))  # `name`, not the `title` v1 had
