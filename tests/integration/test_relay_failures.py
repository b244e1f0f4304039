"""The relay loses nothing when it is killed, when the broker goes away, or when an event is bad."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import uuid4

import psycopg2
from eventsourcing.persistence import StoredEvent

from consumers.relay import ensure_topics
from domain.notice import parse_notice
from domain.notifier import Notifier, NotifierKind
from ntd.bootstrap import FixedClock, build, build_relay
from ntd.config import Settings
from tests.integration.conftest import REPO, settings_env
from tests.integration.history import START, make_history
from tests.integration.kafka_reader import read_all
from tests.integration.test_relay import relay_until_caught_up, stored_published_events
from tests.unit.domain_fixtures import AGENT, BRAND_USER, grant_cast, notice_data, register_brand


def relay_position(settings: Settings) -> int:
    connection = psycopg2.connect(
        settings.events_dsn, options=f"-c search_path={settings.events_schema}"
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('ntd_relay_position')")
            if cursor.fetchone()[0] is None:
                return 0
            cursor.execute("SELECT position FROM ntd_relay_position WHERE name = 'kafka'")
            row = cursor.fetchone()
            return int(row[0]) if row else 0
    finally:
        connection.close()


def start_relay(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ntd", "relay", *args],
        env=settings_env(settings),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def test_a_relay_killed_mid_stream_resends_at_most_the_tail_with_the_same_ce_ids(
    pg_settings: Settings,
) -> None:
    clock = FixedClock(START)
    ntd = build(pg_settings, clock=clock)
    make_history(ntd.app, clock, cases=1000)
    stored = stored_published_events(ntd)
    head = ntd.app.recorder.max_notification_id()
    ntd.close()

    first = start_relay(pg_settings, "--page-size", "50")
    wait_for(lambda: relay_position(pg_settings) >= head // 4, 60, "the relay to get going")
    encoders = _children(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = relay_position(pg_settings)
    assert 0 < killed_at < head, "the relay should have been killed mid-stream"
    assert encoders, "the relay on PostgreSQL reads the log in an encoder process"
    wait_for(lambda: not any(_alive(p) for p in encoders), 15, "the orphaned encoder to end")

    second = start_relay(pg_settings, "--until-caught-up")
    assert second.wait(120) == 0, second.stderr.read().decode() if second.stderr else ""

    messages = read_all(pg_settings.kafka_bootstrap, pg_settings.topic_prefix, len(stored))
    by_id: dict[str, list[dict[str, object]]] = {}
    for m in messages:
        by_id.setdefault(m.headers["ce_id"], []).append(m.value)
    assert set(by_id) == set(stored), "an event is missing after the restart"
    for ce_id, copies in by_id.items():
        assert all(c == copies[0] for c in copies), f"re-sent {ce_id} differs from the original"
    assert relay_position(pg_settings) == head


def test_stopping_the_broker_during_filing_delays_events_but_loses_none(
    pg_settings: Settings,
) -> None:
    clock = FixedClock(START)
    ntd = build(pg_settings, clock=clock)
    ensure_topics(pg_settings.kafka_bootstrap, 3, pg_settings.topic_prefix)
    relay = build_relay(ntd, max_backoff=2.0)
    stop = threading.Event()
    worker = threading.Thread(target=relay.run, args=(stop,), daemon=True)
    worker.start()
    try:
        make_history(ntd.app, clock, cases=200, seed=1)
        subprocess.run([str(REPO / "scripts" / "kafka"), "stop"], check=True, capture_output=True)
        make_history(ntd.app, clock, cases=200, seed=2)
        subprocess.run([str(REPO / "scripts" / "kafka"), "start"], check=True, capture_output=True)
        make_history(ntd.app, clock, cases=200, seed=3)
        head = ntd.app.recorder.max_notification_id()
        wait_for(lambda: relay.position >= head, 120, "the relay to catch up after the outage")
    finally:
        stop.set()
        worker.join(30)
        relay.close()
    stored = stored_published_events(ntd)
    ntd.close()
    wait_for(
        lambda: not [t for t in threading.enumerate() if t.name == "ntd-relay-network-thread"],
        10,
        "the network threads of the producers dropped in the outage to stop",
    )

    messages = read_all(pg_settings.kafka_bootstrap, pg_settings.topic_prefix, len(stored))
    assert {m.headers["ce_id"] for m in messages} == set(stored)


def test_an_undecodable_stored_event_is_parked_with_its_reason_and_the_rest_flow(
    pg_settings: Settings,
) -> None:
    clock = FixedClock(START)
    ntd = build(pg_settings, clock=clock)
    make_history(ntd.app, clock, cases=20, seed=4)
    invalid, unknown = uuid4(), uuid4()
    ntd.app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=invalid,
                originator_version=1,
                topic="domain.case:Case.Filed",
                state=b'{"listing": "not a listing"}',
            )
        ]
    )
    ntd.app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=unknown,
                originator_version=1,
                topic="domain.no_such_module:Gone",
                state=b"{}",
            )
        ]
    )
    make_history(ntd.app, clock, cases=20, seed=5)
    expected = set(stored_published_events(ntd)) - {f"{invalid}:1", f"{unknown}:1"}
    ensure_topics(pg_settings.kafka_bootstrap, 3, pg_settings.topic_prefix)
    relay_until_caught_up(ntd)

    relay = build_relay(ntd)
    parked = relay.positions.parked()
    relay.close()
    ntd.close()
    assert [p.originator_id for p in parked] == [str(invalid), str(unknown)]
    assert "ValidationError" in parked[0].reason and "listing" in parked[0].reason
    assert "no_such_module" in parked[1].reason
    assert parked[0].state == '{"listing": "not a listing"}'

    messages = read_all(pg_settings.kafka_bootstrap, pg_settings.topic_prefix, len(expected))
    assert {m.headers["ce_id"] for m in messages} == expected


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_write_committing_after_a_later_one_is_not_passed_over(pg_settings: Settings) -> None:
    """Ids are handed out at insert and become visible at commit. Another writer holds id n in
    an open transaction while this one files a notice: unless the notice waits for it (the
    store's writers lock the events table first), the relay sees n+1, and moves past n for
    good. With the library's insert function, which does not lock, this test fails."""
    ntd = build(pg_settings, clock=FixedClock(START))
    grant_cast(ntd.app)
    notifier, right = register_brand(ntd.app)
    ensure_topics(pg_settings.kafka_bootstrap, 3, pg_settings.topic_prefix)
    relay_until_caught_up(ntd)
    other = Notifier.register("Slow", NotifierKind.BRAND, "l@slow.example", AGENT, START)
    stored = ntd.app.mapper.to_stored_event(other.collect_events()[0])
    held = psycopg2.connect(pg_settings.events_dsn)
    table = f"{pg_settings.events_schema}.{ntd.app.recorder.events_table_name}"
    with held.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " VALUES (%s, %s, %s, %s)",
            (str(stored.originator_id), stored.originator_version, stored.topic, stored.state),
        )
    notice = parse_notice(notice_data(notifier, right))
    writer = threading.Thread(target=ntd.app.file_notice, args=(notice, BRAND_USER))
    writer.start()
    writer.join(1.0)
    relay_until_caught_up(ntd)  # while the other writer's id is not yet committed
    held.commit()
    held.close()
    writer.join(30)
    relay_until_caught_up(ntd)
    published = stored_published_events(ntd)
    ntd.close()

    messages = read_all(pg_settings.kafka_bootstrap, pg_settings.topic_prefix, len(published))
    assert f"{other.id}:1" in published
    assert {m.headers["ce_id"] for m in messages} == set(published)
