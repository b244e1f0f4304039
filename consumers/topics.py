"""The topic catalogue: every Kafka topic ntd writes, what its messages are keyed by, how many
partitions it gets, where its unreadable messages go and which consumer groups read it. The
relay, the consumers, the rebuild, the contracts and the docs all read it from here."""

from __future__ import annotations

import contextlib
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


@dataclass(frozen=True)
class Replication:
    """How many copies of each partition a cluster keeps, and how many must hold a message
    before a producer's acks=all is answered."""

    factor: int
    min_insync: int

    @classmethod
    def for_cluster(cls, brokers: int) -> Replication:
        """Three copies where there are three brokers or more (one broker lost costs nothing),
        and acks=all waits for all copies but one: a write survives one broker's crash, and
        one broker down stops no write. One broker: one copy, as before clusters."""
        factor = max(1, min(3, brokers))
        return cls(factor, max(1, factor - 1))

    def configs(self) -> dict[str, str]:
        """The topic-level settings that carry it."""
        return {"min.insync.replicas": str(self.min_insync)}


def ensure_topics(
    bootstrap: str, partitions: int, prefix: str = "", connect_timeout: float = 2.0
) -> list[str]:
    """Create every topic of the catalogue that is missing, replicated as the cluster's size
    allows (Replication.for_cluster); returns every topic's name. A broker that does not answer
    within `connect_timeout` seconds raises consumers.reach.ServiceAway."""
    # imported here: the catalogue is read by every command, kafka-python costs 0.1 s to import
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    from consumers.reach import kafka_client

    names = all_topic_names(prefix)
    # a comma-separated bootstrap (a cluster) is split by kafka-python itself
    admin = kafka_client(
        KafkaAdminClient,
        bootstrap,
        connect_timeout,
        client_id="ntd-admin",
        request_timeout_ms=15_000,
    )
    try:
        existing = set(admin.list_topics())
        if missing := [n for n in names if n not in existing]:
            brokers = len(admin.describe_cluster().get("brokers") or ())
            replication = Replication.for_cluster(brokers)
            new = [
                NewTopic(n, partitions, replication.factor, topic_configs=replication.configs())
                for n in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent creator won
                admin.create_topics(new, timeout_ms=15_000)
    finally:
        admin.close()
    return names
