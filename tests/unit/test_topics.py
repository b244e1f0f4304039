"""The topic catalogue is the one place topics are declared; everything else reads it."""

from __future__ import annotations

from pathlib import Path

from consumers.loop_config import LoopConfig
from consumers.topics import (
    CHECKPOINT_TOPIC,
    CONSUMERS,
    DEAD_LETTER_TOPIC,
    EVENT_TOPICS,
    TOPICS,
    all_topic_names,
    event_topic_names,
    group_id,
)
from domain.catalog import PUBLISHED, aggregate_type, event_classes

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_published_aggregate_type_has_one_event_topic_keyed_by_its_id() -> None:
    assert sorted(t.aggregate for t in EVENT_TOPICS if t.aggregate) == sorted(PUBLISHED)
    assert all(t.key == f"the {t.aggregate} id" for t in EVENT_TOPICS)
    assert {aggregate_type(cls) for cls in event_classes()} == set(PUBLISHED)


def test_every_event_topic_sends_what_its_readers_cannot_apply_to_the_dead_letter_topic() -> None:
    assert {t.dead_letters for t in EVENT_TOPICS} == {DEAD_LETTER_TOPIC}
    assert all(t.groups == CONSUMERS for t in EVENT_TOPICS)
    assert [t.name for t in TOPICS][-1] == DEAD_LETTER_TOPIC


def test_the_consumers_read_the_catalogue_s_topics_in_their_groups() -> None:
    config = LoopConfig(name="projections", topic_prefix="staging.")
    assert config.topics == event_topic_names("staging.")
    assert config.group_id == group_id("projections", "staging.") == "staging.ntd-projections"
    assert config.dead_letter_topic == "staging." + DEAD_LETTER_TOPIC
    assert all_topic_names() == [*event_topic_names(), CHECKPOINT_TOPIC, DEAD_LETTER_TOPIC]


def test_the_readme_names_every_topic_and_consumer_group() -> None:
    text = README.read_text()
    missing = [t.name for t in TOPICS if f"`{t.name}`" not in text]
    missing += [group_id(c) for c in CONSUMERS if group_id(c) not in text]
    assert missing == []
