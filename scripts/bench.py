"""ntd benchmarks: each figure is a ratio against a baseline measured in the same run.

Needs the services of scripts/postgres and scripts/kafka; run through scripts/bench.
NTD_BENCH_RELAY_ARGS passes options to the latency run's relay (e.g. --no-encoder-process).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg2
from kafka import KafkaProducer
from psycopg2 import sql
from psycopg2.extras import execute_values
from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consumers.envelope import encode  # noqa: E402
from consumers.relay import RelayConfig, ensure_topics, producer_settings  # noqa: E402
from domain.access import AccessError, Grant  # noqa: E402
from domain.catalog import is_published  # noqa: E402
from domain.notice import parse_notice  # noqa: E402
from domain.notifier import NotifierKind  # noqa: E402
from domain.values import Actor, RightType, Role  # noqa: E402
from ntd.bootstrap import FixedClock, Ntd, build, build_relay, open_store_chain  # noqa: E402
from ntd.config import Settings  # noqa: E402
from ntd.logs import configure  # noqa: E402

PG = os.environ.get("NTD_BENCH_PG", "postgresql://ntd:ntd@127.0.0.1:5432/ntd_test_events")
READ_PG = PG.rsplit("/", 1)[0] + "/ntd_test_read"
KAFKA = os.environ.get("NTD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
ADMIN = Actor.parse("agent:root")
"""The first admin of each scratch store, who grants the others their roles."""
AGENT = Actor.parse("agent:bench")
"""Registers the brands and verifies their rights: agent and supervisor."""
USER = Actor.parse("notifier_user:bench")
"""Files every notice: the reporter of every brand."""
WRITERS = 3
"""Threads filing cases in the latency run (one cannot offer 500 cases/s on its own)."""
RESULTS: list[tuple[str, float, float, str, float | None, str]] = []


def report(
    name: str, ours: float, base: float, unit: str, target: float | None, direction: str = ">="
) -> None:
    """Record and print one figure as ours / baseline."""
    ratio = ours / base if base else float("nan")
    RESULTS.append((name, ours, base, unit, target, direction))
    verdict = ""
    if target is not None:
        met = ratio >= target if direction == ">=" else ratio <= target
        verdict = f"  target {direction} {target:g}: {'met' if met else 'NOT met'}"
    print(
        f"{name:<44} ours {ours:>10,.0f} {unit}   baseline {base:>10,.0f} {unit}"
        f"   ratio {ratio:5.2f}{verdict}",
        flush=True,
    )


@contextmanager
def schema() -> Iterator[str]:
    """A scratch PostgreSQL schema, dropped afterwards."""
    name = "bench_" + uuid.uuid4().hex[:8]
    yield name
    for dsn in (PG, READ_PG):
        connection = psycopg2.connect(dsn)
        connection.autocommit = True
        with connection.cursor() as cursor:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
            cursor.execute(drop)
        connection.close()


def system(schema_name: str, tmp: Path, read: bool = False) -> tuple[Ntd, FixedClock]:
    """ntd on the PostgreSQL event store in a scratch schema (and its read models, with `read`,
    in a schema of the same name in the read database, fed from Kafka)."""
    read_dsn = f"sqlite:///{tmp / (schema_name + '.db')}"
    if read:
        connection = psycopg2.connect(READ_PG)
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema_name)))
        connection.close()
        read_dsn = f"{READ_PG}?options=-csearch_path%3D{schema_name}"
    settings = Settings(
        data_dir=tmp,
        event_store="postgres",
        events_dsn=PG,
        events_schema=schema_name,
        kafka_bootstrap=KAFKA,
        kafka_partitions=6,
        topic_prefix=f"{schema_name}.",
        read_dsn=read_dsn,
        feed="kafka" if read else "log",
    )
    clock = FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    return build(settings, clock=clock), clock


def grant_cast(ntd: Ntd) -> None:
    """The first admin, and AGENT as agent and supervisor, unless the store has them."""
    try:
        ntd.app.name_first_admin(ADMIN)
    except AccessError:  # the store has its first admin, and the cast its roles
        return
    for role in (Role.AGENT, Role.SUPERVISOR):
        ntd.app.grant_role(AGENT, Grant(role=role), ADMIN)


def brand(ntd: Ntd, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A notifier with a verified trademark, USER its reporter (the cast granted first)."""
    grant_cast(ntd)
    notifier = ntd.app.register_notifier(name, NotifierKind.BRAND, "legal@b.example", AGENT)
    right = ntd.app.register_right(notifier, RightType.TRADEMARK, "TM1", "EU", "ab" * 32, AGENT)
    ntd.app.verify_right(notifier, right, AGENT)
    ntd.app.grant_role(USER, Grant(role=Role.REPORTER, notifier_id=notifier), ADMIN)
    return notifier, right


def notice(notifier: uuid.UUID, right: uuid.UUID, first: int, count: int) -> Any:
    return parse_notice(
        {
            "notifier_id": str(notifier),
            "right_id": str(right),
            "submitted_by": USER.id,
            "listings": [
                {
                    "marketplace": "mk",
                    "listing_id": f"L{i}",
                    "url": f"https://mk.example/{i}",
                    "seller_id": f"s{i % 500}",
                }
                for i in range(first, first + count)
            ],
            "reason_code": "counterfeit",
            "explanation": "Test buy shows counterfeit stitching and hologram.",
            "evidence": [{"kind": "test_buy", "reference": "order 1", "sha256": "cd" * 32}],
            "contact": {"name": "Legal", "email": "legal@b.example"},
            "good_faith_statement": True,
            "accuracy_statement": True,
            "signature": "Legal",
        }
    )


def raw_table(connection: Any, name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {name} (id BIGSERIAL PRIMARY KEY, originator_id UUID,"
            " originator_version INT, topic TEXT, state BYTEA,"
            " UNIQUE (originator_id, originator_version))"
        )
    connection.commit()


def timed(action: Callable[[], int]) -> float:
    """Items per second of one run of `action`, which returns how many items it handled."""
    started = time.perf_counter()
    items = action()
    return items / (time.perf_counter() - started)


def fill_synthetic(ntd: Ntd, cases: int, seed: int = 11) -> int:
    """Store mixed case lifecycles fast: real aggregates and events, written straight to the
    recorder in large batches (set-up for the read-side benchmarks). Returns events stored."""
    import random

    from domain.case import Case, Deadline, Lane, Listing, ReasonCode
    from domain.values import SYSTEM, DecisionGround, StatementOfReasons, Visibility, stable_id

    rng = random.Random(seed)
    app = ntd.app
    notifiers = [brand(ntd, f"Synthetic{i}") for i in range(20)]
    reasons = StatementOfReasons(
        ground=DecisionGround.ILLEGAL_CONTENT,
        legal_ground="KEYWORD_TRADEMARK_INFRINGEMENT",
        facts="Test buy shows counterfeit stitching.",
        visibility=(Visibility.CONTENT_REMOVED,),
    )
    evidence = notice(notifiers[0][0], notifiers[0][1], 0, 1).evidence
    seller, agent = Actor.parse("seller:s"), Actor.parse("agent:a")
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    pending: list[Any] = []
    stored = 0
    for n in range(cases):
        notifier, right = notifiers[n % 20]
        at += timedelta(seconds=7)
        listing = Listing(
            marketplace="mk",
            listing_id=f"S{n}",
            url=f"https://mk.example/{n}",
            seller_id=f"seller-{rng.randrange(2000)}",
        )
        case = Case.file(
            stable_id("bench", str(n)),
            uuid.uuid4(),
            notifier,
            right,
            RightType.TRADEMARK,
            listing,
            ReasonCode.COUNTERFEIT,
            "Counterfeit hologram on the test buy.",
            evidence,
            Lane.NORMAL,
            Actor.parse("notifier_user:u"),
            at,
        )
        roll = rng.random()
        later = at + timedelta(hours=rng.randrange(1, 72))
        if roll < 0.1:
            case.decline(reasons, agent, later)
        else:
            case.take_down(reasons, agent, later, review_by=None)
            case.notify_seller(later + timedelta(days=14), SYSTEM, later)
            if roll > 0.85:
                case.counter_notice("Genuine stock.", True, seller, later + timedelta(days=2))
                case.forward_to_notifier(
                    later + timedelta(days=16), agent, later + timedelta(days=3)
                )
                case.miss_deadline(Deadline.RESTORATION, SYSTEM, later + timedelta(days=17))
            elif roll > 0.5:
                case.miss_deadline(Deadline.COUNTER_NOTICE, SYSTEM, later + timedelta(days=15))
        pending += case.collect_events()
        if len(pending) >= 10_000 or n == cases - 1:
            app.recorder.insert_events([app.mapper.to_stored_event(e) for e in pending])
            stored += len(pending)
            pending = []
    return stored


# -- issue 3 ------------------------------------------------------------------------------------


def bench_relay(size: int, tmp: Path) -> None:
    """Relay from a pre-filled store vs a raw producer sending the same payloads."""
    with schema() as name:
        ntd, _ = system(name, tmp)
        notifier, right = brand(ntd, "RelayBench")
        for first in range(0, size, 300):
            ntd.app.file_notice(notice(notifier, right, first, min(300, size - first)), USER)
        ensure_topics(KAFKA, 6, f"{name}.")
        ensure_topics(KAFKA, 6, f"{name}.raw.")
        messages = []
        for n in ntd.app.recorder.select_notifications(start=1, limit=10 * size + 100):
            if not is_published(n.topic):
                continue
            out = encode(cast(BaseModel, ntd.app.mapper.to_domain_event(n)), n.id)
            if out is not None:
                messages.append(out)

        def raw() -> int:  # the relay's delivery settings, the library's default partitioner
            producer = KafkaProducer(**producer_settings(RelayConfig(bootstrap=KAFKA)))
            for m in messages:
                producer.send(f"{name}.raw.{m.topic}", key=m.key, value=m.value, headers=m.headers)
            producer.flush()
            producer.close()
            return len(messages)

        def relay() -> int:
            worker = build_relay(ntd)
            worker.run(threading.Event(), until_caught_up=True)
            worker.close()
            return worker.published

        base = timed(raw)
        ours = timed(relay)
        ntd.close()
    report("relay from a pre-filled store", ours, base, "ev/s", 0.8)


def bench_filing(count: int, tmp: Path) -> None:
    """One case per command, durable, vs raw single-row psycopg2 commits."""
    with schema() as name:
        ntd, clock = system(name, tmp)
        notifier, right = brand(ntd, "FilingBench")
        connection = psycopg2.connect(PG, options=f"-c search_path={name}")
        raw_table(connection, "raw_single")
        payload = b'{"x": "' + b"y" * 600 + b'"}'

        def raw() -> int:
            with connection.cursor() as cursor:
                for _ in range(count):
                    cursor.execute(
                        "INSERT INTO raw_single (originator_id, originator_version, topic, state)"
                        " VALUES (%s, 1, 'bench', %s)",
                        (str(uuid.uuid4()), payload),
                    )
                    connection.commit()
            return count

        def ours() -> int:
            for i in range(count):
                clock.set(clock.now() + timedelta(seconds=1))
                ntd.app.file_notice(notice(notifier, right, 10_000_000 + i, 1), USER)
            return count

        base = timed(raw)
        mine = timed(ours)
        connection.close()
        ntd.close()
    report("filing, one case per command", mine, base, "cases/s", 0.5)


def bench_bulk(notices: int, tmp: Path) -> None:
    """Bulk notices of 300 listings vs a raw batched insert of the same rows."""
    with schema() as name:
        ntd, _ = system(name, tmp)
        notifier, right = brand(ntd, "BulkBench")
        connection = psycopg2.connect(PG, options=f"-c search_path={name}")
        raw_table(connection, "raw_bulk")
        head_before = ntd.app.recorder.max_notification_id() or 0

        def ours() -> int:
            for n in range(notices):
                ntd.app.file_notice(notice(notifier, right, n * 300, 300), USER)
            return notices * 300

        mine = timed(ours)
        rows = [
            (str(r.originator_id), r.originator_version, r.topic, r.state)
            for r in ntd.app.recorder.select_notifications(start=head_before + 1, limit=10**7)
        ]
        per_case = len(rows) / (notices * 300)

        def raw() -> int:
            with connection.cursor() as cursor:
                for start in range(0, len(rows), 900):
                    execute_values(
                        cursor,
                        "INSERT INTO raw_bulk (originator_id, originator_version, topic, state)"
                        " VALUES %s",
                        rows[start : start + 900],
                        page_size=900,
                    )
                    connection.commit()
            return int(len(rows) / per_case)

        base = timed(raw)
        connection.close()
        ntd.close()
    report("bulk notices of 300 listings", mine, base, "cases/s", 0.3)


# -- issue 4 ------------------------------------------------------------------------------------


def _relay_all(ntd: Ntd) -> None:
    ensure_topics(KAFKA, 6, ntd.settings.topic_prefix)
    worker = build_relay(ntd)
    worker.run(threading.Event(), until_caught_up=True)
    worker.close()


def _audit_copy(name: str) -> tuple[Any, list[tuple[Any, ...]], str]:
    """The audit rows the projection wrote, and an empty table of the same shape for the raw run."""
    connection = psycopg2.connect(READ_PG, options=f"-c search_path={name}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name LIKE %s ORDER BY length(table_name) LIMIT 1",
            (name, "%audit%"),
        )
        table = cursor.fetchone()[0]
        cursor.execute(f"SELECT * FROM {table}")
        rows = cursor.fetchall()
        cursor.execute(f"CREATE TABLE raw_copy (LIKE {table} INCLUDING ALL)")
    connection.commit()
    return connection, rows, table


def _raw_audit_insert(connection: Any, rows: list[tuple[Any, ...]], page: int) -> int:
    """The baseline of the read side: the same audit rows by execute_values, `page` a commit."""
    with connection.cursor() as cursor:
        for start in range(0, len(rows), page):
            execute_values(
                cursor, "INSERT INTO raw_copy VALUES %s", rows[start : start + page], page_size=page
            )
            connection.commit()
    return len(rows)


def bench_projection(cases: int, tmp: Path) -> None:
    """Projection throughput from a pre-filled topic vs raw execute_values of the same rows."""
    from ntd.bootstrap import build_consumer

    with schema() as name:
        ntd, _ = system(name, tmp, read=True)
        events = fill_synthetic(ntd, cases)
        _relay_all(ntd)
        loop = build_consumer(ntd, "projections")

        def ours() -> int:
            loop.run(threading.Event(), until_caught_up=True)
            return loop.records

        mine = timed(ours)
        loop.sink.close()
        connection, rows, _ = _audit_copy(name)

        base = timed(lambda: _raw_audit_insert(connection, rows, 2000))
        connection.close()
        ntd.close()
    print(f"  ({events:,} events stored; {len(rows):,} audit rows)")
    report("projection throughput from Kafka", mine, base, "ev/s", 0.5)


def bench_rebuild(cases: int, tmp: Path) -> None:
    """Rebuild of all projections from the event store, extrapolated to 1,000,000 events."""
    from ntd.rebuild import rebuild_projections

    with schema() as name:
        ntd, _ = system(name, tmp, read=True)
        started = time.perf_counter()
        events = fill_synthetic(ntd, cases)
        print(f"  (filled {events:,} events in {time.perf_counter() - started:.0f} s)", flush=True)
        result = rebuild_projections(ntd, "store")
        connection, rows, _ = _audit_copy(name)

        base = timed(lambda: _raw_audit_insert(connection, rows, 5000))
        connection.close()
        ntd.close()
    seconds_per_million = 1_000_000 / result.rate
    print(
        f"  rebuilt {result.events:,} events in {result.seconds:.1f} s; at that rate 1,000,000 "
        f"events take {seconds_per_million:.0f} s (target <= 60 s: "
        f"{'met' if seconds_per_million <= 60 else 'NOT met'})"
    )
    report("rebuild from the event store", result.rate, base, "ev/s", None)


def _service_env(ntd: Ntd) -> dict[str, str]:
    settings = ntd.settings
    return {
        **os.environ,
        "NTD_EVENT_STORE": "postgres",
        "NTD_EVENTS_DSN": settings.events_dsn,
        "NTD_EVENTS_SCHEMA": settings.events_schema,
        "NTD_READ_DSN": settings.read_dsn,
        "NTD_FEED": "kafka",
        "NTD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "NTD_TOPIC_PREFIX": settings.topic_prefix,
        "NTD_LOG_LEVEL": "warning",
    }


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 1e9


def bench_latency(seconds: float, rate: int, tmp: Path) -> None:
    """Command committed → dashboard row visible, with `rate` cases/s offered, relay and consumer
    running as their own processes: p99 vs the bare Kafka produce → consume round trip."""
    import subprocess

    with schema() as name:
        ntd, clock = system(name, tmp, read=True)
        notifier, right = brand(ntd, "Latency")
        ensure_topics(KAFKA, 6, ntd.settings.topic_prefix)
        env = _service_env(ntd)
        services = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ntd",
                    "relay",
                    "--page-size",
                    "500",
                    *os.environ.get("NTD_BENCH_RELAY_ARGS", "").split(),
                ],
                env=env,
                cwd=REPO,
            ),
            subprocess.Popen(
                [sys.executable, "-m", "ntd", "consume", "projections"], env=env, cwd=REPO
            ),
        ]
        watcher = psycopg2.connect(READ_PG, options=f"-c search_path={name}")
        watcher.autocommit = True
        # Warm up until the consumer group is joined and the path is live.
        warm = ntd.app.file_notice(notice(notifier, right, 49_999_999, 1), USER).cases[0].case_id
        give_up = time.monotonic() + 60
        with watcher.cursor() as cursor:
            while time.monotonic() < give_up:
                cursor.execute("SELECT to_regclass('read_cases') IS NOT NULL")
                if cursor.fetchone()[0]:
                    cursor.execute("SELECT 1 FROM read_cases WHERE case_id = %s", (str(warm),))
                    if cursor.fetchone():
                        break
                time.sleep(0.05)
        committed: dict[str, float] = {}
        seen: dict[str, float] = {}
        done = threading.Event()

        def watch() -> None:
            with watcher.cursor() as cursor:
                while not (done.is_set() and len(seen) >= len(committed)):
                    waiting = [c for c in list(committed) if c not in seen]
                    if waiting:
                        cursor.execute(
                            "SELECT case_id FROM read_cases WHERE case_id = ANY(%s)", (waiting,)
                        )
                        now = time.perf_counter()
                        for (case_id,) in cursor.fetchall():
                            seen.setdefault(case_id, now)
                    time.sleep(0.002)

        watcher_thread = threading.Thread(target=watch, daemon=True)
        watcher_thread.start()
        interval, total = 1 / rate, int(seconds * rate)
        notices = [notice(notifier, right, 50_000_000 + n, 1) for n in range(total)]
        started = time.perf_counter()

        def offer(first: int) -> None:  # writers take turns on one schedule
            for n in range(first, total, WRITERS):
                pause = started + n * interval - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                clock.set(clock.now() + timedelta(milliseconds=10))
                receipt = ntd.app.file_notice(notices[n], USER)
                committed[str(receipt.cases[0].case_id)] = time.perf_counter()

        writers = [threading.Thread(target=offer, args=(i,)) for i in range(WRITERS)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        offered = len(committed) / (time.perf_counter() - started)
        done.set()
        watcher_thread.join(60)
        for service in services:
            service.terminate()
            service.wait(30)
        watcher.close()
        ntd.close()
        latencies = [seen[c] - t for c, t in committed.items() if c in seen]
        raw = _kafka_round_trips(f"{name}.latency", min(int(seconds * rate), 2000), rate)
    p99, raw_p99 = _percentile(latencies, 0.99), _percentile(raw, 0.99)
    print(
        f"  offered {offered:,.0f} cases/s for {seconds:.0f} s; {len(latencies):,} of "
        f"{len(committed):,} cases seen; p50 {_percentile(latencies, 0.5):.0f} ms, p99 {p99:.0f} ms"
        f" (target <= 100 ms: {'met' if p99 <= 100 else 'NOT met'}); bare Kafka round trip p50 "
        f"{_percentile(raw, 0.5):.1f} ms, p99 {raw_p99:.1f} ms"
    )
    report("end-to-end p99 latency (ms, lower is better)", p99, raw_p99, "ms", None)


def _kafka_round_trips(topic: str, count: int, rate: int) -> list[float]:
    """Produce → consume latencies of bare Kafka messages at the given rate."""
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(bootstrap_servers=KAFKA, linger_ms=0, acks="all")
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=KAFKA,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        group_id=None,
    )
    producer.send(topic, b"0").get(10)
    while not consumer.assignment():
        consumer.poll(timeout_ms=100)
    consumer.poll(timeout_ms=500)
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(count):
        pause = started + i / rate - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        key = str(i).encode()
        sent[key] = time.perf_counter()
        producer.send(topic, key)
        for batch in consumer.poll(timeout_ms=0).values():
            latencies += [time.perf_counter() - sent[r.value] for r in batch if r.value in sent]
    deadline = time.perf_counter() + 10
    while len(latencies) < count and time.perf_counter() < deadline:
        for batch in consumer.poll(timeout_ms=50).values():
            latencies += [time.perf_counter() - sent[r.value] for r in batch if r.value in sent]
    producer.close()
    consumer.close()
    return latencies


# -- issue 14: the portal --------------------------------------------------------------------

CLIENTS = 16
"""Concurrent HTTP clients (and direct callers) of the portal benchmarks."""
UNTHROTTLED = {"NTD_WEB_RATE": str(10**9), "NTD_LOG_LEVEL": "warning"}
"""A bench token makes far more requests than the per-token limit allows a person."""


def _in_parallel(
    callers: int, total: int, call: Callable[[int, int], object]
) -> tuple[float, list[float]]:
    """Run call(caller, n) for n in range(total) over `callers` threads, each taking the next n
    from a shared counter until none is left; items per second and each call's latency in
    seconds. A shared counter, not a fixed share per caller: all `callers` stay busy until the
    work runs out (with fixed shares, callers whose connections landed on the less busy server
    worker finish early and the end of the run has fewer concurrent clients than it claims).
    One caller runs on this thread (a SQLite connection serves only the thread that opened it)."""
    latencies: list[list[float]] = [[] for _ in range(callers)]
    failures: list[BaseException] = []
    counter = itertools.count()

    def work(k: int) -> None:
        try:
            while not failures:
                n = next(counter)  # atomic under the GIL
                if n >= total:
                    return
                started = time.perf_counter()
                call(k, n)
                latencies[k].append(time.perf_counter() - started)
        except BaseException as failure:  # re-raised on the calling thread
            failures.append(failure)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(callers)]
    started = time.perf_counter()
    if callers == 1:
        work(0)
    else:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} of {callers} callers failed") from failures[0]
    return total / elapsed, [x for each in latencies for x in each]


class _Client:
    """A keep-alive HTTP/1.1 connection of one bench client: http.client, far lighter than
    httpx, so the client's own CPU (on the same machine) takes less from the server's."""

    def __init__(self, url: str, token: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        where = urlsplit(url)
        self.connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers=self.headers)
        answer = self.connection.getresponse()
        return answer.status, answer.read()

    def expect(self, status: int, method: str, path: str, body: bytes | None = None) -> bytes:
        got, text = self.call(method, path, body)
        if got != status:
            raise RuntimeError(f"{method} {path}: {got} {text[:500]!r}")
        return text

    def close(self) -> None:
        self.connection.close()


def _clients(url: str, token: str) -> list[_Client]:
    return [_Client(url, token) for _ in range(CLIENTS)]


class _Cpu:
    """CPU seconds used between start and `per(items)`: by this process (every thread) and,
    given its pid, by a server process and its children (uvicorn's workers)."""

    def __init__(self, server: int | None = None) -> None:
        self.server = server
        self.start = self._now()

    def _now(self) -> tuple[float, float]:
        return time.process_time(), _tree_cpu(self.server) if self.server else 0.0

    def per(self, items: int) -> tuple[float, float]:
        """Milliseconds per item: (this process, the server)."""
        mine, server = self._now()
        return (mine - self.start[0]) * 1000 / items, (server - self.start[1]) * 1000 / items


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        own = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError, ValueError):
        return 0.0
    return own + sum(_tree_cpu(int(child)) for child in children)


def bench_api_filing(count: int, tmp: Path) -> None:
    """One-listing notices POSTed by 16 concurrent clients to `ntd serve --workers 2` on
    PostgreSQL vs the same notices filed by direct calls of the application service (16
    threads and one, the faster is the baseline)."""
    from tests.integration.portal import serve

    with schema() as name:
        ntd, _ = system(name, tmp, read=True)
        notifier, right = brand(ntd, "ApiFilingBench")
        token = ntd.app.issue_token(USER, ADMIN).text
        batches = {
            label: [notice(notifier, right, first + i, 1) for i in range(count)]
            for label, first in (("one", 20_000_000), ("many", 30_000_000), ("api", 40_000_000))
        }
        warm = [notice(notifier, right, 10_000_000 + i, 1) for i in range(2 * CLIENTS)]
        for submission in warm[:CLIENTS]:
            ntd.app.file_notice(submission, USER)

        def direct(label: str) -> Callable[[int, int], object]:
            return lambda _, n: ntd.app.file_notice(batches[label][n], USER)

        one, _ = _in_parallel(1, count, direct("one"))
        cpu = _Cpu()
        many, _ = _in_parallel(CLIENTS, count, direct("many"))
        direct_cpu, _ = cpu.per(count)
        bodies = [s.model_dump_json().encode() for s in batches["api"]]
        with serve(ntd.settings, tmp / f"{name}-logs", workers=2, **UNTHROTTLED) as served:
            clients = _clients(served.url, token)
            for k, submission in enumerate(warm[CLIENTS:]):  # connections and pools made
                clients[k].expect(
                    201, "POST", "/api/v1/notices", submission.model_dump_json().encode()
                )
            cpu = _Cpu(served.process.popen.pid)
            ours, latencies = _in_parallel(
                CLIENTS,
                count,
                lambda k, n: clients[k].expect(201, "POST", "/api/v1/notices", bodies[n]),
            )
            client_cpu, server_cpu = cpu.per(count)
            for client in clients:
                client.close()
        ntd.close()
    print(
        f"  direct: {one:,.0f} notices/s from one thread, {many:,.0f} from {CLIENTS}; API "
        f"latency p50 {_percentile(latencies, 0.5):.0f} ms, "
        f"p99 {_percentile(latencies, 0.99):.0f} ms; CPU per notice: direct {direct_cpu:.2f} ms,"
        f" the server {server_cpu:.2f} ms, its clients {client_cpu:.2f} ms ({os.cpu_count()} "
        f"CPUs shared by clients, server and PostgreSQL; the clients are lean on purpose, "
        f"http.client keep-alive connections on {CLIENTS} threads taking the next notice from "
        f"a shared counter, so the load generator takes little CPU from the server)"
    )
    report(f"API filing, {CLIENTS} clients, 2 workers", ours, max(one, many), "notices/s", 0.7)


def bench_api_dashboard(size: float, requests: int, tmp: Path) -> None:
    """GET /api/v1/notifiers/{id}/dashboard of the demo's busiest brand (`ntd demo`, embedded)
    by 16 concurrent readers against `ntd serve --workers 2` vs computing the same dashboard by
    direct calls (ntd.reads.dashboard: the permission check, the catch-up and the query)."""
    import re
    import subprocess

    from ntd import reads
    from tests.integration.portal import serve

    data = tmp / f"demo-{uuid.uuid4().hex[:8]}"
    settings = Settings(data_dir=data, read_dsn=f"sqlite:///{data / 'read.db'}")
    env = {**os.environ, "NTD_DATA_DIR": str(data), "NTD_LOG_LEVEL": "warning"}
    for name in ("NTD_EVENT_STORE", "NTD_READ_DSN", "NTD_FEED", "NTD_NOW"):
        env.pop(name, None)
    started = time.perf_counter()
    shown = subprocess.run(
        [sys.executable, "-m", "ntd", "demo", "--size", str(size)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    brand_id = uuid.UUID(re.search(r"ntd dashboard --brand (\S+)", shown).group(1))  # type: ignore[union-attr]
    line = re.search(r"^\s+brand\s+(\S+)\s+(ntd_\S+)", shown, re.MULTILINE)
    assert line is not None, shown[-2000:]
    reader, token = Actor.parse(line.group(1)), line.group(2)
    print(f"  (demo at size {size:g} built in {time.perf_counter() - started:.0f} s)", flush=True)

    ntd = build(settings)
    at = datetime.now(UTC)
    figures = reads.dashboard(ntd, reader, brand_id, at)
    cpu = _Cpu()
    base, direct = _in_parallel(
        1, requests, lambda _, n: reads.dashboard(ntd, reader, brand_id, at)
    )
    direct_cpu, _ = cpu.per(requests)
    ntd.close()
    path = f"/api/v1/notifiers/{brand_id}/dashboard"
    with serve(settings, tmp / "demo-logs", workers=2, **UNTHROTTLED) as served:
        clients = _clients(served.url, token)

        def get(k: int, _: int) -> None:
            clients[k].expect(200, "GET", path)

        first = json.loads(clients[0].expect(200, "GET", path))
        assert first["cases"] == figures.cases, (first["cases"], figures.cases)
        _in_parallel(CLIENTS, 4 * CLIENTS, get)  # warm: every worker's pool filled
        cpu = _Cpu(served.process.popen.pid)
        ours, latencies = _in_parallel(CLIENTS, requests, get)
        client_cpu, server_cpu = cpu.per(requests)
        for client in clients:
            client.close()
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    print(
        f"  {figures.cases:,} cases on the dashboard; direct call p50 "
        f"{_percentile(direct, 0.5):.1f} ms; API p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"with {CLIENTS} readers; per worker {ours / 2 / base:.2f}x one direct caller; CPU per "
        f"dashboard: direct {direct_cpu:.1f} ms, the server {server_cpu:.1f} ms, its clients "
        f"{client_cpu:.2f} ms"
    )
    report(f"API dashboard, {CLIENTS} readers, 2 workers", ours, base, "req/s", 0.5)


UNCHAINED_FUNCTION = (
    "CREATE OR REPLACE FUNCTION {function}("
    "ids uuid[], versions bigint[], topics text[], states bytea[])"
    " RETURNS SETOF bigint LANGUAGE plpgsql AS $body$"
    " BEGIN"
    "  SET LOCAL lock_timeout = '5s';"
    "  LOCK TABLE {table} IN EXCLUSIVE MODE;"
    "  NOTIFY {channel};"
    "  RETURN QUERY INSERT INTO {table}"
    "   (originator_id, originator_version, topic, state)"
    "   SELECT * FROM unnest(ids, versions, topics, states)"
    "   RETURNING notification_id;"
    " END $body$"
)
"""The insert function as it was before the chain (ntd/event_writer.py at e8497d3): the baseline."""


class _UnchainedSqlite(Settings):
    """Settings whose SQLite store is the library's own recorder, without the chain."""

    def eventsourcing_env(self) -> dict[str, str]:
        env = super().eventsourcing_env()
        env.pop("APPLICATION_RECORDER_TOPIC", None)
        return env


def _unchain(ntd: Ntd) -> None:
    """Put the pre-chain insert function back in this store's schema."""
    recorder: Any = ntd.app.recorder
    connection = recorder._connect()
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(UNCHAINED_FUNCTION).format(
                function=recorder.function,
                table=recorder.table,
                channel=sql.Identifier(recorder.channel_name),
            )
        )
    connection.close()


def bench_chain_filing(count: int, tmp: Path) -> None:
    """Filing one case per command with the chain vs without it (the pre-chain write path), on
    PostgreSQL and on SQLite, alternating rounds so both see the same machine."""
    rounds = 4
    with schema() as chained_name, schema() as plain_name:
        chained, chained_clock = system(chained_name, tmp)
        plain, plain_clock = system(plain_name, tmp)
        _unchain(plain)
        sqlite_chained = _sqlite_system(tmp / "chained", Settings)
        sqlite_plain = _sqlite_system(tmp / "plain", _UnchainedSqlite)
        pairs = [
            ("PostgreSQL", (chained, chained_clock), (plain, plain_clock)),
            ("SQLite", sqlite_chained, sqlite_plain),
        ]
        for label, ours_system, base_system in pairs:
            times = {"ours": 0.0, "base": 0.0}
            brands = {
                key: brand(ntd, f"ChainFiling{key}")
                for key, (ntd, _) in (("ours", ours_system), ("base", base_system))
            }
            first = 20_000_000
            for _ in range(rounds):
                for key, (ntd, clock) in (("ours", ours_system), ("base", base_system)):
                    notifier, right = brands[key]
                    started = time.perf_counter()
                    for i in range(count // rounds):
                        clock.set(clock.now() + timedelta(seconds=1))
                        ntd.app.file_notice(notice(notifier, right, first + i, 1), USER)
                    times[key] += time.perf_counter() - started
                first += count
            report(
                f"filing with the chain ({label})",
                count / times["ours"],
                count / times["base"],
                "cases/s",
                0.9,
            )
            for ntd, _ in (ours_system, base_system):
                ntd.close()


def _sqlite_system(where: Path, kind: type[Settings]) -> tuple[Ntd, FixedClock]:
    settings = kind(data_dir=where, read_dsn=f"sqlite:///{where / 'read.db'}")
    clock = FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    ntd = build(settings, clock=clock)
    grant_cast(ntd)
    return ntd, clock


def bench_verify(size: float, tmp: Path) -> None:
    """`ntd audit verify` over the demo (embedded) vs sha256 alone over the same bytes: each
    stored event's state and link text, and each trail row's hashed form, one call each."""
    import hashlib

    from ntd import evidence
    from ntd.demo import run_demo
    from ntd.store_chain import PAGE  # noqa: F401  (the walk's page size)
    from projections import AuditQuery
    from projections.encoding import canonical_bytes

    where = tmp / f"verify-{size}"
    settings = Settings(data_dir=where, read_dsn=f"sqlite:///{where / 'read.db'}")
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        run_demo(settings, size=size, end=datetime(2026, 12, 1, tzinfo=UTC))
    print(f"  (demo at size {size} built in {time.perf_counter() - started:.0f} s)", flush=True)
    ntd = build(settings)
    ntd.catch_up()
    chain = open_store_chain(ntd)
    pieces = [
        (
            row.state or b"",
            f"{row.position}\n{row.originator_id}\n{row.version}\n"
            f"{row.recorded_at}\n{row.topic}".encode(),
        )
        for row in chain.rows()
    ]
    chain.close()
    trail = [
        canonical_bytes({f: getattr(r, f) for f in type(r).model_fields if f != "hash"})
        for r in ntd.read_store.audit_query(AuditQuery())
    ]
    total = sum(len(a) + len(b) for a, b in pieces) + sum(len(t) for t in trail)

    def hashing() -> int:
        for state, text in pieces:
            hashlib.sha256(state).digest()
            hashlib.sha256(text).digest()
        for body in trail:
            hashlib.sha256(body).digest()
        return total

    def verifying() -> int:
        store = evidence.verify_store(ntd, None)
        match, trail_ok = evidence.verify_trail(ntd, store.published or {})
        assert store.ok and match.ok and trail_ok.ok, (store.broken, match.problem)
        return total

    base = timed(hashing)
    ours = timed(verifying)
    print(
        f"  ({len(pieces):,} stored events, {len(trail):,} trail rows, {total / 1e6:.1f} MB)",
        flush=True,
    )
    report("ntd audit verify over the demo", ours / 1e6, base / 1e6, "MB/s", 0.5)
    ntd.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only these: relay, filing, bulk, projection, rebuild, latency, api-filing, "
        "api-dashboard, verify, chain-filing",
    )
    args = parser.parse_args()
    configure("console", os.environ.get("NTD_LOG_LEVEL", "warning"))
    scale = 0.2 if args.quick else 1.0
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"ntd-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    benches: dict[str, Callable[[], None]] = {
        "relay": lambda: bench_relay(int(30_000 * scale), tmp),
        "filing": lambda: bench_filing(int(2_000 * scale), tmp),
        "bulk": lambda: bench_bulk(max(2, int(20 * scale)), tmp),
        "projection": lambda: bench_projection(int(25_000 * scale), tmp),
        "rebuild": lambda: bench_rebuild(int(270_000 * scale), tmp),
        "latency": lambda: bench_latency(20 * scale if args.quick else 20, 500, tmp),
        "api-filing": lambda: bench_api_filing(int(3_000 * scale), tmp),
        "api-dashboard": lambda: bench_api_dashboard(scale, int(2_000 * scale), tmp),
        "verify": lambda: bench_verify(scale, tmp),
        "chain-filing": lambda: bench_chain_filing(int(2_000 * scale), tmp),
    }
    for name, run in benches.items():
        if not args.only or name in args.only:
            run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
