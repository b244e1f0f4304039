"""What a consumer loop connects to and how it batches (`LoopConfig`); read by the loop
(consumers/loop.py) and by its dead-letter producer (consumers/dead_letters.py)."""

from __future__ import annotations

from dataclasses import dataclass

from consumers.reach import ATTEMPT_TIMEOUT
from consumers.topics import DEAD_LETTER_TOPIC, event_topic_names, group_id


@dataclass(frozen=True)
class LoopConfig:
    """What a consumer loop connects to and how it batches."""

    name: str
    bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    max_poll_records: int = 2000
    poll_timeout_ms: int = 200
    lag_interval: float = 10.0
    max_backoff: float = 30.0
    connect_timeout: float = ATTEMPT_TIMEOUT
    """Seconds one attempt to reach the broker may take; the loop retries with back-off."""
    instance_id: str | None = None
    """Kafka static membership (group.instance.id): a restart takes its partitions back at once."""

    @property
    def group_id(self) -> str:
        """The consumer group: `<prefix>ntd-<name>`."""
        return group_id(self.name, self.topic_prefix)

    @property
    def topics(self) -> list[str]:
        """The event topics, prefixed."""
        return event_topic_names(self.topic_prefix)

    @property
    def dead_letter_topic(self) -> str:
        """`<prefix>ntd.deadletter.v1`."""
        return self.topic_prefix + DEAD_LETTER_TOPIC
