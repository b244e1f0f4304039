"""The topic catalogue: every Kafka topic ntd writes, what its messages are keyed by, how many
partitions it gets, where its unreadable messages go and which consumer groups read it. The
relay, the consumers, the rebuild, the contracts and the docs all read it from here."""

from __future__ import annotations

from dataclasses import dataclass

from domain.catalog import PUBLISHED, topic_for

DEAD_LETTER_TOPIC = "ntd.deadletter.v1"
"""Where a consumer puts a message it cannot read or apply, with the reason in headers."""

CHECKPOINT_TOPIC = "ntd.checkpoint.v1"
"""Where the event store's signed checkpoints are published, keyed by the signing key."""

CONSUMERS = ("projections", "policies")
"""The consumers `ntd consume NAME` runs; each is the Kafka group `<prefix>ntd-NAME`."""


@dataclass(frozen=True)
class Topic:
    """One topic ntd writes."""

    name: str
    key: str
    """What each message's key is (a partition holds every message of one key, in order)."""
    aggregate: str = ""
    """The aggregate type whose events the topic carries ("": not an event topic)."""
    dead_letters: str | None = DEAD_LETTER_TOPIC
    """Where its consumers put messages they cannot read or apply."""
    groups: tuple[str, ...] = CONSUMERS
    """The consumers reading it."""
    partitions: str = "NTD_KAFKA_PARTITIONS"
    """How many partitions it is created with (by the relay, when missing)."""


EVENT_TOPICS: tuple[Topic, ...] = tuple(
    Topic(topic_for(aggregate), f"the {aggregate} id", aggregate) for aggregate in PUBLISHED
)
"""One topic per published aggregate type, keyed by aggregate id so an aggregate's events stay
in order."""

TOPICS: tuple[Topic, ...] = (
    *EVENT_TOPICS,
    Topic(CHECKPOINT_TOPIC, "the signing key (`ed25519:…`)", dead_letters=None, groups=()),
    Topic(
        DEAD_LETTER_TOPIC,
        "the original message's key",
        dead_letters=None,
        groups=(),
    ),
)
"""Every topic, event topics first."""


def event_topic_names(prefix: str = "") -> list[str]:
    """The event topics' names, with the deployment's prefix."""
    return [prefix + topic.name for topic in EVENT_TOPICS]


def all_topic_names(prefix: str = "") -> list[str]:
    """Every topic's name (the dead-letter topic included), with the prefix."""
    return [prefix + topic.name for topic in TOPICS]


def group_id(consumer: str, prefix: str = "") -> str:
    """The Kafka consumer group of one of CONSUMERS."""
    return f"{prefix}ntd-{consumer}"
