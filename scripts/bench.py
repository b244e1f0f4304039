"""ntd benchmarks: each figure is a ratio against a baseline measured in the same run.

Needs the services of scripts/postgres and scripts/kafka; run through scripts/bench.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql
from psycopg2.extras import execute_values

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consumers.envelope import encode  # noqa: E402
from consumers.relay import RelayConfig, ensure_topics, make_producer  # noqa: E402
from domain.notice import parse_notice  # noqa: E402
from domain.notifier import NotifierKind  # noqa: E402
from domain.values import Actor, RightType  # noqa: E402
from ntd.bootstrap import FixedClock, Ntd, build, build_relay  # noqa: E402
from ntd.config import Settings  # noqa: E402

PG = os.environ.get("NTD_BENCH_PG", "postgresql://ntd:ntd@127.0.0.1:5432/ntd_test_events")
KAFKA = os.environ.get("NTD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
AGENT = Actor.parse("agent:bench")
RESULTS: list[tuple[str, float, float, str, float | None, str]] = []


def report(name: str, ours: float, base: float, unit: str, target: float | None,
           direction: str = ">=") -> None:
    """Record and print one figure as ours / baseline."""
    ratio = ours / base if base else float("nan")
    RESULTS.append((name, ours, base, unit, target, direction))
    verdict = ""
    if target is not None:
        met = ratio >= target if direction == ">=" else ratio <= target
        verdict = f"  target {direction} {target:g}: {'met' if met else 'NOT met'}"
    print(f"{name:<44} ours {ours:>10,.0f} {unit}   baseline {base:>10,.0f} {unit}"
          f"   ratio {ratio:5.2f}{verdict}", flush=True)


@contextmanager
def schema() -> Iterator[str]:
    """A scratch PostgreSQL schema, dropped afterwards."""
    name = "bench_" + uuid.uuid4().hex[:8]
    yield name
    connection = psycopg2.connect(PG)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    connection.close()


def system(schema_name: str, tmp: Path) -> tuple[Ntd, FixedClock]:
    """ntd on the PostgreSQL event store, in a scratch schema."""
    settings = Settings(
        data_dir=tmp, event_store="postgres", events_dsn=PG, events_schema=schema_name,
        kafka_bootstrap=KAFKA, kafka_partitions=6, topic_prefix=f"{schema_name}.",
    )
    clock = FixedClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
    return build(settings, clock=clock), clock


def brand(ntd: Ntd, name: str) -> tuple[uuid.UUID, uuid.UUID]:
    notifier = ntd.app.register_notifier(name, NotifierKind.BRAND, "legal@b.example", AGENT)
    right = ntd.app.register_right(notifier, RightType.TRADEMARK, "TM1", "EU", "ab" * 32, AGENT)
    ntd.app.verify_right(notifier, right, AGENT)
    return notifier, right


def notice(notifier: uuid.UUID, right: uuid.UUID, first: int, count: int) -> Any:
    return parse_notice({
        "notifier_id": str(notifier), "right_id": str(right), "submitted_by": "bench",
        "listings": [
            {"marketplace": "mk", "listing_id": f"L{i}", "url": f"https://mk.example/{i}",
             "seller_id": f"s{i % 500}"}
            for i in range(first, first + count)
        ],
        "reason_code": "counterfeit",
        "explanation": "Test buy shows counterfeit stitching and hologram.",
        "evidence": [{"kind": "test_buy", "reference": "order 1", "sha256": "cd" * 32}],
        "contact": {"name": "Legal", "email": "legal@b.example"},
        "good_faith_statement": True, "accuracy_statement": True, "signature": "Legal",
    })


def raw_table(connection: Any, name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (id BIGSERIAL PRIMARY KEY, originator_id UUID,"
                       " originator_version INT, topic TEXT, state BYTEA,"
                       " UNIQUE (originator_id, originator_version))")
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
        ground=DecisionGround.ILLEGAL_CONTENT, legal_ground="KEYWORD_TRADEMARK_INFRINGEMENT",
        facts="Test buy shows counterfeit stitching.", visibility=(Visibility.CONTENT_REMOVED,))
    evidence = notice(notifiers[0][0], notifiers[0][1], 0, 1).evidence
    seller, agent = Actor.parse("seller:s"), Actor.parse("agent:a")
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    pending: list[Any] = []
    stored = 0
    for n in range(cases):
        notifier, right = notifiers[n % 20]
        at += timedelta(seconds=7)
        listing = Listing(marketplace="mk", listing_id=f"S{n}", url=f"https://mk.example/{n}",
                          seller_id=f"seller-{rng.randrange(2000)}")
        case = Case.file(stable_id("bench", str(n)), uuid.uuid4(), notifier, right,
                         RightType.TRADEMARK, listing, ReasonCode.COUNTERFEIT,
                         "Counterfeit hologram on the test buy.", evidence, Lane.NORMAL,
                         Actor.parse("notifier_user:u"), at)
        roll = rng.random()
        later = at + timedelta(hours=rng.randrange(1, 72))
        if roll < 0.1:
            case.decline(reasons, agent, later)
        else:
            case.take_down(reasons, agent, later, review_by=None)
            case.notify_seller(later + timedelta(days=14), SYSTEM, later)
            if roll > 0.85:
                case.counter_notice("Genuine stock.", True, seller, later + timedelta(days=2))
                case.forward_to_notifier(later + timedelta(days=16), agent,
                                         later + timedelta(days=3))
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
            ntd.app.file_notice(notice(notifier, right, first, min(300, size - first)))
        ensure_topics(KAFKA, 6, f"{name}.")
        ensure_topics(KAFKA, 6, f"{name}.raw.")
        messages = []
        for n in ntd.app.recorder.select_notifications(start=1, limit=10 * size + 100):
            if "ListingClaim" in n.topic:
                continue
            out = encode(ntd.app.mapper.to_domain_event(n), n.id)
            if out is not None:
                messages.append(out)

        def raw() -> int:
            producer = make_producer(RelayConfig(bootstrap=KAFKA))
            for m in messages:
                producer.send(f"{name}.raw.{m.topic}", key=m.key, value=m.value,
                              headers=m.headers)
            producer.flush()
            producer.close()
            return len(messages)

        def relay() -> int:
            worker = build_relay(ntd)
            worker.run(threading.Event(), until_caught_up=True)
            worker.positions.close()
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
                for i in range(count):
                    cursor.execute(
                        "INSERT INTO raw_single (originator_id, originator_version, topic, state)"
                        " VALUES (%s, 1, 'bench', %s)", (str(uuid.uuid4()), payload))
                    connection.commit()
            return count

        def ours() -> int:
            for i in range(count):
                clock.set(clock.now() + timedelta(seconds=1))
                ntd.app.file_notice(notice(notifier, right, 10_000_000 + i, 1))
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
        head_before = ntd.app.recorder.max_notification_id()

        def ours() -> int:
            for n in range(notices):
                ntd.app.file_notice(notice(notifier, right, n * 300, 300))
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
                        " VALUES %s", rows[start:start + 900], page_size=900)
                    connection.commit()
            return int(len(rows) / per_case)

        base = timed(raw)
        connection.close()
        ntd.close()
    report("bulk notices of 300 listings", mine, base, "cases/s", 0.3)


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only these benchmarks: relay, filing, bulk")
    args = parser.parse_args()
    scale = 0.2 if args.quick else 1.0
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"ntd-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    benches: dict[str, Callable[[], None]] = {
        "relay": lambda: bench_relay(int(30_000 * scale), tmp),
        "filing": lambda: bench_filing(int(2_000 * scale), tmp),
        "bulk": lambda: bench_bulk(max(2, int(20 * scale)), tmp),
    }
    for name, run in benches.items():
        if not args.only or name in args.only:
            run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
