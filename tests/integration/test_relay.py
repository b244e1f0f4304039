"""The relay puts exactly the stored events on Kafka, in case order, under the contract."""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict

from kafka.partitioner.default import murmur2 as reference_murmur2

from consumers.contracts import DEFAULT_SCHEMA_BASE
from consumers.relay import ensure_topics
from domain.catalog import internal_topics
from ntd.bootstrap import FixedClock, Ntd, build, build_relay
from ntd.config import Settings
from tests.integration.history import START, make_history
from tests.integration.kafka_reader import Message, read_all, validator

HEADERS = (
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_dataschema",
    "content-type",
    "ntd_notification_id",
)


def stored_published_events(ntd: Ntd) -> dict[str, tuple[str, int, int]]:
    """ce_id → (aggregate id, version, notification id) for every stored event not of an
    internal topic (as the relay reads them: an unknown topic is not internal)."""
    internal = set(internal_topics())
    found = {}
    start = 1
    while True:
        page = ntd.app.recorder.select_notifications(start=start, limit=1000)
        if not page:
            return found
        for n in page:
            if n.topic not in internal:
                cid = f"{n.originator_id}:{n.originator_version}"
                found[cid] = (str(n.originator_id), n.originator_version, n.id)
        start = page[-1].id + 1


def relay_until_caught_up(ntd: Ntd) -> None:
    relay = build_relay(ntd)
    try:
        relay.run(threading.Event(), until_caught_up=True)
    finally:
        relay.close()


def assert_in_case_order(messages: list[Message]) -> None:
    versions: dict[str, list[int]] = defaultdict(list)
    for m in sorted(messages, key=lambda m: (m.topic, m.partition, m.offset)):
        versions[m.key].append(int(m.value["originator_version"]))
    for key, seen in versions.items():
        assert seen == sorted(seen), f"{key} arrived out of order: {seen}"


def test_filing_a_thousand_cases_puts_each_stored_event_on_kafka_once_in_case_order(
    pg_settings: Settings,
) -> None:
    clock = FixedClock(START)
    ntd = build(pg_settings, clock=clock)
    try:
        make_history(ntd.app, clock, cases=1000)
        stored = stored_published_events(ntd)
        ensure_topics(pg_settings.kafka_bootstrap, 3, pg_settings.topic_prefix)
        relay_until_caught_up(ntd)
    finally:
        ntd.close()

    messages = read_all(pg_settings.kafka_bootstrap, pg_settings.topic_prefix, len(stored))

    ce_ids = [m.headers["ce_id"] for m in messages]
    assert len(ce_ids) == len(set(ce_ids)), "an event arrived twice"
    assert set(ce_ids) == set(stored)
    assert len(stored) > 3000
    assert_in_case_order(messages)
    for m in messages:
        assert all(h in m.headers for h in HEADERS), m.headers
        assert m.headers["ce_specversion"] == "1.0"
        assert m.headers["ce_subject"] == m.key == str(m.value["originator_id"])
        # where the default partitioner (kafka-python's, the Java client's) puts the key
        assert m.partition == (reference_murmur2(m.key.encode()) & 0x7FFFFFFF) % 3
        assert int(m.headers["ntd_notification_id"]) == stored[m.headers["ce_id"]][2]
        errors = list(validator(m.headers["ce_type"]).iter_errors(m.value))
        assert not errors, f"{m.headers['ce_type']}: {errors[0].message}"
        # an absolute URI, the $id of the schema the value was just validated against
        assert m.headers["ce_dataschema"] == validator(m.headers["ce_type"]).schema["$id"]
        assert m.headers["ce_dataschema"].startswith(DEFAULT_SCHEMA_BASE)
    by_topic = {m.topic.removeprefix(pg_settings.topic_prefix) for m in messages}
    assert by_topic == {"ntd.case.v1", "ntd.notifier.v1"}


def test_the_relay_names_each_schema_under_the_configured_base(pg_settings: Settings) -> None:
    base = "https://schemas.shop.example/ntd/"
    settings = dataclasses.replace(pg_settings, schema_base=base)
    clock = FixedClock(START)
    ntd = build(settings, clock=clock)
    try:
        make_history(ntd.app, clock, cases=20)
        stored = stored_published_events(ntd)
        ensure_topics(settings.kafka_bootstrap, 3, settings.topic_prefix)
        relay_until_caught_up(ntd)  # on PostgreSQL: inline, then through the encoder process
    finally:
        ntd.close()

    messages = read_all(settings.kafka_bootstrap, settings.topic_prefix, len(stored))

    assert {m.headers["ce_id"] for m in messages} == set(stored)
    for m in messages:
        assert m.headers["ce_dataschema"] == f"{base}{m.headers['ce_type']}.json"
