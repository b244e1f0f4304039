"""Fault injection on the production path: PostgreSQL, a three-broker Kafka cluster, the relay
and both consumer groups, under a steady load of filings and decisions; then the checks that
nothing was lost, duplicated or left stuck. Run through scripts/chaos (docs/faults.md)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg2  # noqa: E402
from kafka import KafkaAdminClient, KafkaConsumer  # noqa: E402
from kafka.structs import TopicPartition  # noqa: E402

from consumers.topics import ensure_topics, event_topic_names  # noqa: E402
from domain.case import Deadline  # noqa: E402
from domain.catalog import is_published  # noqa: E402
from domain.notice import parse_notice  # noqa: E402
from domain.values import SYSTEM, DomainError  # noqa: E402
from ntd.bootstrap import FixedClock, Ntd, build  # noqa: E402
from ntd.config import Settings  # noqa: E402
from ntd.logs import configure  # noqa: E402
from ntd.rebuild import rebuild_projections  # noqa: E402
from projections.sql.schema import TABLES  # noqa: E402
from tests.integration.history import (  # noqa: E402
    ADMIN,
    AGENT,
    REASONS,
    USER,
    brand,
    grant_seller_user,
    notice,
    seller_user,
)

SCHEMA = "chaos"
"""The event store's schema and the live read models' schema in the run's own PostgreSQL."""
PROCESS_KINDS = ("relay", "projections", "policies")
RESTART_DELAY = 1.0
"""Seconds a supervisor waits before starting a killed process again (systemd's RestartSec)."""
SELLERS = 12
"""Few sellers, so final takedowns add up to strikes and suspensions within a run."""


@dataclass(frozen=True)
class Plan:
    """How long the load runs and how many faults of each kind it meets."""

    seconds: float
    process_kills: int
    broker_kills: int
    pg_restarts: int
    rate: float
    """Load steps (commands) per second."""
    seed: int

    @classmethod
    def full(cls, seed: int) -> Plan:
        return cls(seconds=600, process_kills=60, broker_kills=6, pg_restarts=3, rate=8, seed=seed)

    @classmethod
    def short(cls, seed: int, seconds: float) -> Plan:
        return cls(seconds, process_kills=10, broker_kills=2, pg_restarts=1, rate=6, seed=seed)


# -- services ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    """The run's own PostgreSQL and Kafka cluster, started and faulted through scripts/."""

    state_dir: Path
    pg_port: int
    kafka_port: int
    brokers: int = 3

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "NTD_SERVICES_DIR": str(self.state_dir),
            "NTD_PG_PORT": str(self.pg_port),
            "NTD_KAFKA_PORT": str(self.kafka_port),
            "NTD_KAFKA_CONTROLLER_PORT": str(self.kafka_port + 1),
            "NTD_KAFKA_HEAP": os.environ.get("NTD_KAFKA_HEAP", "-Xms128m -Xmx384m"),
        }

    def script(self, name: str, *args: str) -> str:
        done = subprocess.run(
            [str(REPO / "scripts" / name), *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"scripts/{name} {' '.join(args)}: {done.stderr.strip()}")
        return done.stdout.strip()

    def start(self) -> None:
        self.script("postgres", "start")
        self.script("kafka", "start", "--brokers", str(self.brokers))

    def stop(self) -> None:
        with suppress(RuntimeError, subprocess.TimeoutExpired):
            self.script("kafka", "stop")
        with suppress(RuntimeError, subprocess.TimeoutExpired):
            self.script("postgres", "stop")

    @property
    def bootstrap(self) -> str:
        return self.script("kafka", "bootstrap")

    def dsn(self, database: str) -> str:
        return f"postgresql://ntd:ntd@127.0.0.1:{self.pg_port}/{database}"

    def restart_postgres_immediately(self) -> None:
        """`pg_ctl restart -m immediate`: every backend dies at once, as in a crash, and the
        server recovers from its write-ahead log."""
        base = Path((self.state_dir / "postgres" / "cluster").read_text().strip())
        data = base / "data"
        owner = pwd.getpwuid(data.stat().st_uid).pw_name
        command = [
            _pg_ctl(), "-D", str(data), "-l", str(base / "postgres.log"),
            "-m", "immediate", "-w", "-t", "60", "restart",
        ]  # fmt: skip
        if owner != pwd.getpwuid(os.geteuid()).pw_name:  # the cluster runs as its owner
            command = ["runuser", "-u", owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=90)


def _pg_ctl() -> str:
    """The newest PostgreSQL's pg_ctl, as scripts/postgres picks it."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    if not found:
        raise RuntimeError("no pg_ctl under /usr/lib/postgresql")
    return str(found[-1])


# -- supervised processes -----------------------------------------------------------------------


class Supervised:
    """One long-running ntd process, started again whenever it ends, as a supervisor would."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.kind = name.split("-")[0]
        self.argv = argv
        self.env = env
        self.log = logs / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.killed_by_us = False
        self.unplanned_exits: list[int] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ntd", *self.argv],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        self.killed_by_us = False

    def kill(self) -> None:
        """SIGKILL, as a crash; the supervisor starts it again."""
        with self.lock:
            if self.process and self.process.poll() is None:
                self.killed_by_us = True
                self.process.send_signal(signal.SIGKILL)

    def tend(self) -> None:
        """Start it again if it ended (after the supervisor's delay)."""
        with self.lock:
            if self.process is None or self.process.poll() is None:
                return
            if not self.killed_by_us:
                self.unplanned_exits.append(self.process.returncode)
        time.sleep(RESTART_DELAY)
        with self.lock:
            self.start()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


class Supervisor(threading.Thread):
    def __init__(self, processes: list[Supervised]) -> None:
        super().__init__(daemon=True, name="supervisor")
        self.processes = processes
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.2):
            for process in self.processes:
                process.tend()

    def stop(self) -> None:
        self.halt.set()
        self.join(10)
        for process in self.processes:
            process.stop()


# -- the load -----------------------------------------------------------------------------------


@dataclass
class Acked:
    """What the load was told was committed: per case, the events its commands recorded."""

    events: dict[UUID, list[str]] = field(default_factory=lambda: defaultdict(list))
    commands: int = 0
    refused: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    """The refusals by the domain error's name."""
    unknown: int = 0
    """Commands that failed on a fault: their outcome is unknown, so nothing is expected."""

    def refuse(self, error: DomainError) -> None:
        self.refused += 1
        self.reasons[type(error).__name__] += 1

    def add(self, case_id: UUID, event: str) -> None:
        self.events[case_id].append(event)
        self.commands += 1


class Load(threading.Thread):
    """Files notices and decides cases at a steady rate through the application service, with a
    clock that moves on an hour a step (so counter-notice windows close within the run) and
    stays behind the host's, where the policies consumers stamp their commands."""

    STEP = timedelta(hours=1)

    def __init__(self, settings: Settings, plan: Plan) -> None:
        super().__init__(daemon=True, name="load")
        self.settings = settings
        self.rate = plan.rate
        self.rng = random.Random(plan.seed)
        now = datetime.now(UTC)
        self.ceiling = now - timedelta(days=1)
        span = min(self.STEP * int(plan.seconds * plan.rate), timedelta(days=300))
        self.clock = FixedClock(self.ceiling - span)
        self.halt = threading.Event()
        self.acked = Acked()
        self.ntd: Ntd | None = None
        self.brand: tuple[UUID, UUID] | None = None
        self.filed = 0
        self.undecided: list[UUID] = []
        self.windows: list[tuple[datetime, UUID]] = []
        """Taken-down cases and when their counter-notice window closes."""
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            next_at = time.monotonic()
            while not self.halt.is_set():
                self.step()
                next_at += 1 / self.rate
                self.halt.wait(max(0.0, next_at - time.monotonic()))
        except BaseException as error:  # reported by the run
            self.error = error
        finally:
            if self.ntd:
                self.ntd.close()

    def step(self) -> None:
        self.clock.set(min(self.clock.now() + self.STEP, self.ceiling))
        if self.ntd is None or self.brand is None:
            self.attempt(self.connect)
            return
        due = [w for w in self.windows if w[0] <= self.clock.now()]
        if due:
            self.windows.remove(due[0])
            self.attempt(lambda: self.close_window(due[0][1]))
        elif self.undecided and self.rng.random() < 0.6:
            case_id = self.undecided.pop(self.rng.randrange(len(self.undecided)))
            self.attempt(lambda: self.decide(case_id))
        else:
            self.attempt(self.file)

    def attempt(self, command: Callable[[], None]) -> None:
        """Run one command; a refusal is an answer, any other failure a fault whose outcome
        the load cannot know: it drops the system and builds it again, as a client would."""
        try:
            command()
        except DomainError as error:
            self.acked.refuse(error)
        except Exception:
            self.acked.unknown += 1
            if self.ntd:
                with suppress(Exception):
                    self.ntd.close()
            self.ntd = None
            self.halt.wait(0.5)

    def connect(self) -> None:
        self.ntd = build(self.settings, clock=self.clock)
        if self.brand is None:
            self.brand = brand(self.ntd.app, "Chaos")
            for n in range(SELLERS):
                grant_seller_user(self.ntd.app, f"seller-{n}")

    @property
    def app(self) -> Any:
        assert self.ntd is not None
        return self.ntd.app

    def file(self) -> None:
        assert self.brand is not None
        self.filed += 1
        listings = [f"C-{self.filed}-{i}" for i in range(2)]
        data = notice(*self.brand, listings, self.filed)
        for listing in data["listings"]:  # type: ignore[attr-defined]
            listing["seller_id"] = f"seller-{self.rng.randrange(SELLERS)}"
        receipt = self.app.file_notice(parse_notice(data), USER)
        for case in receipt.cases:
            self.acked.add(case.case_id, "Filed")
            self.undecided.append(case.case_id)

    def decide(self, case_id: UUID) -> None:
        roll = self.rng.random()
        if self.app.case(case_id, AGENT).state.value == "taken_down_pending_review":
            self.review(case_id, roll)  # filed in the trusted lane, which the policies grant
            return
        if roll < 0.15:
            self.app.decline(case_id, REASONS, AGENT)
            self.acked.add(case_id, "Declined")
            return
        if roll < 0.2:
            self.app.withdraw(case_id, "settled with the seller", USER)
            self.acked.add(case_id, "Withdrawn")
            return
        case = self.app.take_down(case_id, REASONS, AGENT, despite_genuine=True)
        self.acked.add(case_id, "TakenDown")
        if roll < 0.35:  # the seller objects: counter-notice, forwarded, appeal decided
            self.app.counter_notice(
                case_id, "Genuine stock.", True, seller_user(case.listing.seller_id)
            )
            self.acked.add(case_id, "CounterNoticed")
            self.app.forward_to_notifier(case_id, AGENT)
            self.acked.add(case_id, "ForwardedToNotifier")
            self.app.reject_appeal(case_id, REASONS, AGENT, despite_genuine=True)
            self.acked.add(case_id, "AppealRejected")
            return
        close = self.app.case(case_id, AGENT).deadlines[Deadline.COUNTER_NOTICE]
        self.windows.append((close, case_id))

    def review(self, case_id: UUID, roll: float) -> None:
        """The post-hoc review of a trusted-lane takedown."""
        if roll < 0.2:
            self.app.reverse_takedown(case_id, REASONS, AGENT)
            self.acked.add(case_id, "TakedownReversed")
            return
        case = self.app.confirm_takedown(case_id, REASONS, AGENT)
        self.acked.add(case_id, "TakedownConfirmed")
        if close := case.deadlines.get(Deadline.COUNTER_NOTICE):
            self.windows.append((close, case_id))

    def close_window(self, case_id: UUID) -> None:
        """The counter-notice window passed unused: the takedown is final (a strike follows)."""
        self.app.miss_deadline(case_id, Deadline.COUNTER_NOTICE, SYSTEM)
        self.acked.add(case_id, "DeadlineMissed")


# -- where the pipeline stands ------------------------------------------------------------------


class Probe:
    """Reads how far the relay and both consumer groups got, from their stored positions."""

    def __init__(self, services: Services, settings: Settings, events_table: str) -> None:
        self.services = services
        self.settings = settings
        self.events_table = events_table
        self.topics = event_topic_names(settings.topic_prefix)

    def _query(self, database: str, statement: str) -> list[tuple[Any, ...]]:
        connection = psycopg2.connect(
            self.services.dsn(database), options=f"-c search_path={SCHEMA}", connect_timeout=3
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return list(cursor.fetchall())
        finally:
            connection.close()

    def head(self) -> int:
        rows = self._query("ntd_events", f"SELECT max(notification_id) FROM {self.events_table}")
        return int(rows[0][0] or 0)

    def relayed(self) -> int:
        rows = self._query(
            "ntd_events", "SELECT position FROM ntd_relay_position WHERE name = 'kafka'"
        )
        return int(rows[0][0]) if rows else 0

    def ends(self) -> dict[tuple[str, int], int]:
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            group_id=None,
            request_timeout_ms=10_000,
        )
        try:
            partitions = [
                TopicPartition(topic, number)
                for topic in self.topics
                for number in consumer.partitions_for_topic(topic) or ()
            ]
            ends = consumer.end_offsets(partitions)
            return {(tp.topic, tp.partition): end for tp, end in ends.items()}
        finally:
            consumer.close()

    def consumed(self) -> dict[str, dict[tuple[str, int], int]]:
        projections = self._query(
            "ntd_read",
            "SELECT topic, partition, next_offset FROM ntd_consumer_offsets"
            " WHERE consumer = 'projections'",
        )
        policies = self._query(
            "ntd_read", "SELECT topic, partition_no, next_offset FROM policy_offsets"
        )
        return {
            "projections": {(t, p): o for t, p, o in projections},
            "policies": {(t, p): o for t, p, o in policies},
        }

    def lag(self, ends: dict[tuple[str, int], int]) -> dict[str, int]:
        """Messages each group has yet to apply, by its stored offsets."""
        return {
            group: sum(max(0, end - offsets.get(tp, 0)) for tp, end in ends.items())
            for group, offsets in self.consumed().items()
        }


@dataclass
class Fault:
    """One fault, followed until the first event stored after it has gone the whole way: on
    Kafka, in the read models and past the policies (both groups at the topics' ends as they
    stood once the relay had it)."""

    kind: str
    at: float
    head: int
    """The store's head just before the fault."""
    after: int | None = None
    """The first event stored after the fault."""
    ends: dict[tuple[str, int], int] | None = None
    """The topics' ends once the relay had published `after`."""
    recovered: float | None = None

    def follow(self, probe: Probe) -> None:
        """Move on as far as the pipeline allows now."""
        if self.after is None:
            head = probe.head()
            if head <= self.head:
                return
            self.after = head
        if self.ends is None:
            if probe.relayed() < self.after:
                return
            self.ends = probe.ends()
        if not any(probe.lag(self.ends).values()):
            self.recovered = time.monotonic() - self.at


class Recovery(threading.Thread):
    """Times each fault until the pipeline has carried an event stored after it."""

    def __init__(self, probe: Probe) -> None:
        super().__init__(daemon=True, name="recovery")
        self.probe = probe
        self.faults: list[Fault] = []
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def add(self, kind: str, head: int, at: float) -> None:
        with self.lock:
            self.faults.append(Fault(kind, at, head))

    def run(self) -> None:
        while not self.halt.wait(0.25):
            self.check()

    def check(self) -> None:
        with self.lock:
            open_faults = [f for f in self.faults if f.recovered is None]
        for fault in open_faults:
            try:
                fault.follow(self.probe)
            except Exception:  # the database or the cluster is down: not recovered yet
                return


# -- faults -------------------------------------------------------------------------------------


class Injector:
    """Spreads the plan's faults over the load: process kills on one thread, broker and
    database faults on another (one of those at a time, so two brokers always stand)."""

    def __init__(
        self,
        plan: Plan,
        services: Services,
        processes: list[Supervised],
        probe: Probe,
        recovery: Recovery,
        log: Callable[[str], None],
    ) -> None:
        self.plan = plan
        self.services = services
        self.processes = processes
        self.probe = probe
        self.recovery = recovery
        self.log = log
        self.rng = random.Random(plan.seed + 1)
        self.counts: Counter[str] = Counter()
        self.killed: set[str] = set()
        self.halt = threading.Event()
        self.errors: list[str] = []

    def threads(self) -> list[threading.Thread]:
        return [
            threading.Thread(target=self.kill_processes, daemon=True, name="kills"),
            threading.Thread(target=self.fault_infrastructure, daemon=True, name="infra"),
        ]

    def moments(self, count: int, seconds: float) -> Iterator[float]:
        """`count` random moments, one in each equal slice of the run after a settling start."""
        start, width = 5.0, (seconds - 10.0) / max(count, 1)
        for n in range(count):
            yield start + width * n + self.rng.uniform(0, width * 0.8)

    def wait_until(self, began: float, moment: float) -> bool:
        return not self.halt.wait(max(0.0, began + moment - time.monotonic()))

    def head(self) -> int | None:
        """The store's head; tried for a few seconds, since PostgreSQL may be recovering from
        an earlier fault."""
        for _ in range(10):
            try:
                return self.probe.head()
            except Exception as error:
                failure = error
                self.halt.wait(1)
        self.log(f"no head before a fault, so it goes untimed: {failure!r}")
        return None

    def injected(self, kind: str, head: int | None, at: float) -> None:
        self.counts[kind] += 1
        if head is not None:
            self.recovery.add(kind, head, at)

    def kill_processes(self) -> None:
        began = time.monotonic()
        victims: list[Supervised] = []
        for moment in self.moments(self.plan.process_kills, self.plan.seconds):
            if not self.wait_until(began, moment):
                return
            if not victims:  # rounds in random order: every process is killed as often
                victims = self.rng.sample(self.processes, len(self.processes))
            victim = victims.pop()
            self.killed.add(victim.name)
            head = self.head()
            victim.kill()
            self.injected(f"kill {victim.kind}", head, time.monotonic())

    def fault_infrastructure(self) -> None:
        kinds = ["broker"] * self.plan.broker_kills + ["postgres"] * self.plan.pg_restarts
        self.rng.shuffle(kinds)
        began = time.monotonic()
        for kind, moment in zip(kinds, self.moments(len(kinds), self.plan.seconds), strict=True):
            if not self.wait_until(began, moment):
                return
            try:
                (self.kill_a_leader if kind == "broker" else self.restart_postgres)()
            except Exception as error:
                self.errors.append(f"{kind}: {error}")
                self.log(f"fault {kind} failed: {error}")

    def kill_a_leader(self) -> None:
        """SIGKILL the broker leading a random partition of an event topic; start it again
        after a few seconds down."""
        leader = self.leader_of_a_partition()
        head = self.head()
        at = time.monotonic()
        self.services.script("kafka", "kill-node", str(leader))
        self.injected("kill broker (leader)", head, at)
        self.halt.wait(self.rng.uniform(3, 8))
        self.services.script("kafka", "start-node", str(leader))

    def leader_of_a_partition(self) -> int:
        admin = KafkaAdminClient(
            bootstrap_servers=self.services.bootstrap.split(","), request_timeout_ms=10_000
        )
        try:
            described = admin.describe_topics(self.probe.topics)
        finally:
            admin.close()
        partitions = [p for topic in described for p in topic["partitions"]]
        leaders = [p["leader_id"] for p in partitions if p["leader_id"] >= 0]
        return int(self.rng.choice(leaders))

    def restart_postgres(self) -> None:
        head = self.head()
        at = time.monotonic()
        self.services.restart_postgres_immediately()
        self.injected("restart postgres (immediate)", head, at)


# -- the checks ---------------------------------------------------------------------------------


@dataclass
class Findings:
    events: int = 0
    on_kafka: int = 0
    lost: int = 0
    resent: int = 0
    out_of_order: int = 0
    views_differ: list[str] = field(default_factory=list)
    audit_intact: bool = False
    effects: int = 0
    duplicated_effects: int = 0
    missing_effects: int = 0
    acked_missing: int = 0
    stuck: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.out_of_order
            or self.views_differ
            or not self.audit_intact
            or self.duplicated_effects
            or self.missing_effects
            or self.acked_missing
            or any(self.stuck.values())
            or self.problems
        )


def stored_events(ntd: Ntd) -> list[tuple[str, str, Any]]:
    """Every event in the store, in log order: its topic, ce_id and domain event."""
    app, found, start = ntd.app, [], 1
    while page := app.recorder.select_notifications(start=start, limit=2000):
        for n in page:
            found.append((n.topic, f"{n.originator_id}:{n.originator_version}", n))
        start = page[-1].id + 1
    return found


def on_kafka(bootstrap: str, topics: list[str]) -> dict[tuple[str, int], list[tuple[bytes, str]]]:
    """Every message of the event topics, per partition in offset order: its key and ce_id."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None)
    try:
        partitions = [
            TopicPartition(t, n) for t in topics for n in consumer.partitions_for_topic(t) or ()
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        ends = consumer.end_offsets(partitions)
        found: dict[tuple[str, int], list[tuple[bytes, str]]] = defaultdict(list)
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise RuntimeError("could not read the topics to their ends in 120 s")
            for tp, records in consumer.poll(timeout_ms=1000, max_records=5000).items():
                for record in records:
                    ce_id = dict(record.headers)["ce_id"].decode()
                    found[(tp.topic, tp.partition)].append((record.key, ce_id))
        return found
    finally:
        consumer.close()


def check_kafka(findings: Findings, stored: list[tuple[str, str, Any]], settings: Settings) -> None:
    """Every published event is on Kafka; per aggregate, in one partition and in version order
    (a re-sent tail repeats, but what is new always comes in order)."""
    published = {ce_id for topic, ce_id, _ in stored if is_published(topic)}
    messages = on_kafka(settings.kafka_bootstrap, event_topic_names(settings.topic_prefix))
    seen: Counter[str] = Counter()
    partition_of: dict[bytes, tuple[str, int]] = {}
    last: dict[str, int] = {}
    for tp, records in messages.items():
        for key, ce_id in records:
            seen[ce_id] += 1
            if partition_of.setdefault(key, tp) != tp:
                findings.out_of_order += 1
            if seen[ce_id] > 1:
                continue
            aggregate, version = ce_id.rsplit(":", 1)
            if int(version) <= last.get(aggregate, 0):
                findings.out_of_order += 1
            last[aggregate] = int(version)
    findings.events = len(published)
    findings.on_kafka = sum(seen.values())
    findings.lost = len(published - set(seen))
    findings.resent = sum(n - 1 for n in seen.values())
    if unknown := set(seen) - published:
        findings.problems.append(f"{len(unknown)} messages on Kafka are not in the store")


def check_acked(findings: Findings, stored: list[tuple[str, str, Any]], acked: Acked) -> None:
    """Every event a command that returned recorded is in the store."""
    have: dict[str, Counter[str]] = defaultdict(Counter)
    for topic, ce_id, _ in stored:
        have[ce_id.rsplit(":", 1)[0]][topic.rsplit(".", 1)[-1]] += 1
    for case_id, names in acked.events.items():
        wanted = Counter(names)
        for name, count in wanted.items():
            if have[str(case_id)][name] < count:
                findings.acked_missing += count - have[str(case_id)][name]


def check_effects(findings: Findings, ntd: Ntd, stored: list[tuple[str, str, Any]]) -> None:
    """Each policy command acts once per cause: no two events of one aggregate carry it, and no
    case gives two strikes."""
    effects: Counter[tuple[str, str, str]] = Counter()
    for topic, ce_id, notification in stored:
        strike = topic.endswith("Seller.StrikeRecorded")
        if not strike and '"cause"' not in notification.state.decode(errors="replace"):
            continue
        event: Any = ntd.app.mapper.to_domain_event(notification)
        cause = f"strike for {event.case_id}" if strike else getattr(event, "cause", None)
        if cause:
            effects[(ce_id.rsplit(":", 1)[0], topic, cause)] += 1
    findings.effects = len(effects)
    findings.duplicated_effects = sum(n - 1 for n in effects.values())


def tables(dsn: str, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    connection = psycopg2.connect(dsn, options=f"-c search_path={schema}")
    try:
        found = {}
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"SELECT * FROM {table} LIMIT 0")
                order = ", ".join(str(i + 1) for i in range(len(cursor.description)))
                cursor.execute(f"SELECT * FROM {table} ORDER BY {order}")
                found[table] = cursor.fetchall()
        return found
    finally:
        connection.close()


def read_settings(settings: Settings, services: Services, schema: str) -> Settings:
    dsn = f"{services.dsn('ntd_read')}?options=-csearch_path%3D{schema}"
    return dataclasses.replace(settings, read_dsn=dsn)


def fresh_schema(services: Services, database: str, schema: str) -> None:
    connection = psycopg2.connect(services.dsn(database))
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        cursor.execute(f"CREATE SCHEMA {schema}")
    connection.close()


def check_views(findings: Findings, settings: Settings, services: Services) -> None:
    """The views the consumers built equal those a clean rebuild from the store builds."""
    fresh_schema(services, "ntd_read", "chaos_clean")
    clean = build(read_settings(settings, services, "chaos_clean"))
    try:
        rebuild_projections(clean, "store", workers=1)
    finally:
        clean.close()
    live = tables(services.dsn("ntd_read"), SCHEMA)
    rebuilt = tables(services.dsn("ntd_read"), "chaos_clean")
    findings.views_differ = [t for t in TABLES if live[t] != rebuilt[t]]


def ntd_command(settings_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ntd", *args],
        env=settings_env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def check_audit_and_missing_effects(
    findings: Findings, settings: Settings, env: dict[str, str], services: Services, probe: Probe
) -> None:
    """`ntd audit verify` on the live views; then the policies decided afresh over the whole
    log (embedded, into a view of their own): whatever that stores is an effect that was missed."""
    verify = ntd_command({**env, "NTD_ACTOR": str(AGENT)}, "audit", "verify")
    findings.audit_intact = verify.returncode == 0
    if not findings.audit_intact:
        findings.problems.append(f"audit verify: {verify.stdout.strip()} {verify.stderr.strip()}")
    fresh_schema(services, "ntd_read", "chaos_policies")
    before = probe.head()
    dsn = f"{services.dsn('ntd_read')}?options=-csearch_path%3Dchaos_policies"
    fresh = {**env, "NTD_FEED": "log", "NTD_READ_DSN": dsn, "NTD_ACTOR": str(ADMIN)}
    again = ntd_command(fresh, "policies", "run")
    if again.returncode != 0:
        findings.problems.append(f"policies run: {again.stderr.strip()[-500:]}")
    findings.missing_effects = probe.head() - before
    if findings.missing_effects:
        ntd = build(settings)
        try:
            page = ntd.app.recorder.select_notifications(start=before + 1, limit=1000)
            findings.problems += [
                f"missed effect: {n.topic} {n.originator_id}:{n.originator_version} "
                f"{n.state.decode(errors='replace')[:300]}"
                for n in page
            ]
        finally:
            ntd.close()


# -- the run ------------------------------------------------------------------------------------


def settings_for(services: Services, run_dir: Path, prefix: str) -> Settings:
    return Settings(
        data_dir=run_dir,
        event_store="postgres",
        events_dsn=services.dsn("ntd_events"),
        events_schema=SCHEMA,
        read_dsn=f"{services.dsn('ntd_read')}?options=-csearch_path%3D{SCHEMA}",
        feed="kafka",
        kafka_bootstrap=services.bootstrap,
        kafka_partitions=6,
        topic_prefix=prefix,
    )


def env_for(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "NTD_DATA_DIR": str(settings.data_dir),
        "NTD_EVENT_STORE": settings.event_store,
        "NTD_EVENTS_DSN": settings.events_dsn,
        "NTD_EVENTS_SCHEMA": settings.events_schema,
        "NTD_READ_DSN": settings.read_dsn,
        "NTD_FEED": settings.feed,
        "NTD_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "NTD_KAFKA_PARTITIONS": str(settings.kafka_partitions),
        "NTD_TOPIC_PREFIX": settings.topic_prefix,
        "NTD_LOG_FORMAT": "json",
        "NTD_LOG_LEVEL": "info",
    }


def processes_for(env: dict[str, str], logs: Path) -> list[Supervised]:
    """The relay, and two members of each consumer group (static membership, as deployed)."""
    found = [Supervised("relay", ["relay"], env, logs)]
    for name in ("projections", "policies"):
        for member in (1, 2):
            argv = ["consume", name, "--instance-id", f"{name}-{member}", "--lag-interval", "5"]
            found.append(Supervised(f"{name}-{member}", argv, env, logs))
    return found


def drain(probe: Probe, seconds: float) -> dict[str, int]:
    """Wait until the relay has the store's head and both groups have every message, twice in
    a row (the policies' own commands make new events); returns what is left if time runs out."""
    deadline, settled, left = time.monotonic() + seconds, 0, {"unknown": -1}
    while time.monotonic() < deadline:
        try:
            head = probe.head()
            left = {"relay": max(0, head - probe.relayed()), **probe.lag(probe.ends())}
        except Exception:
            left = {"unknown": -1}
        settled = settled + 1 if not any(left.values()) else 0
        if settled >= 3:
            return left
        time.sleep(1)
    return left


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def timed(log: Callable[[str], None], what: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    log(f"{what}: {time.monotonic() - started:.1f} s")


def run(plan: Plan, services: Services, keep: bool, log: Callable[[str], None]) -> dict[str, Any]:
    run_dir = services.state_dir / "run"
    shutil.rmtree(run_dir, ignore_errors=True)  # each run's logs and errors alone
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with timed(log, "services up"):
        services.start()
    try:
        return _run(plan, services, run_dir, logs, log)
    finally:
        if not keep:
            services.stop()


def _run(
    plan: Plan, services: Services, run_dir: Path, logs: Path, log: Callable[[str], None]
) -> dict[str, Any]:
    for database in ("ntd_events", "ntd_read"):
        fresh_schema(services, database, SCHEMA)
    prefix = f"chaos{int(time.time())}."
    settings = settings_for(services, run_dir, prefix)
    ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions, prefix)
    setup = build(settings)
    events_table: str = setup.app.recorder.events_table_name  # type: ignore[attr-defined]
    setup.close()
    env = env_for(settings)
    probe = Probe(services, settings, events_table)
    processes = processes_for(env, logs)
    for process in processes:
        process.start()
    supervisor, recovery = Supervisor(processes), Recovery(probe)
    injector = Injector(plan, services, processes, probe, recovery, log)
    load = Load(settings, plan)
    faulting = injector.threads()
    log(f"load for {plan.seconds:.0f} s at {plan.rate}/s; faults: {plan}")
    started = time.monotonic()
    for thread in (supervisor, recovery, load, *faulting):
        thread.start()
    load.join(plan.seconds)
    load.halt.set()
    injector.halt.set()
    load.join(60)
    for thread in faulting:
        thread.join(120)
    log(f"load stopped after {time.monotonic() - started:.0f} s: {load.acked.commands} commands")
    findings = Findings()
    with timed(log, "drained"):
        findings.stuck = drain(probe, 180)
    recovery.halt.set()
    recovery.join(5)
    recovery.check()
    supervisor.stop()
    with timed(log, "checked"):
        check_all(findings, settings, services, probe, load, env)
    exits = {p.name: p.unplanned_exits for p in processes if p.unplanned_exits}
    if load.error:
        findings.problems.append(f"load: {load.error!r}")
    findings.problems += injector.errors
    return report(plan, injector, recovery, findings, load, exits)


def check_all(
    findings: Findings,
    settings: Settings,
    services: Services,
    probe: Probe,
    load: Load,
    env: dict[str, str],
) -> None:
    ntd = build(settings)
    try:
        stored = stored_events(ntd)
        check_kafka(findings, stored, settings)
        check_acked(findings, stored, load.acked)
        check_effects(findings, ntd, stored)
    finally:
        ntd.close()
    check_views(findings, settings, services)
    check_audit_and_missing_effects(findings, settings, env, services, probe)


def report(
    plan: Plan,
    injector: Injector,
    recovery: Recovery,
    findings: Findings,
    load: Load,
    exits: dict[str, list[int]],
) -> dict[str, Any]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    unrecovered: Counter[str] = Counter()
    for fault in recovery.faults:
        if fault.recovered is None:
            unrecovered[fault.kind] += 1
        else:
            by_kind[fault.kind].append(fault.recovered)
    faults = {
        kind: {
            "injected": count,
            "recovery_p50": round(percentile(by_kind[kind], 0.5), 2) if by_kind[kind] else None,
            "recovery_p99": round(percentile(by_kind[kind], 0.99), 2) if by_kind[kind] else None,
            "unrecovered": unrecovered[kind],
        }
        for kind, count in sorted(injector.counts.items())
    }
    return {
        "ok": findings.ok,
        "plan": dataclasses.asdict(plan),
        "faults": faults,
        "process_kills": sum(
            n for k, n in injector.counts.items() if k.startswith("kill ") and "broker" not in k
        ),
        "members_killed": len(injector.killed),
        "commands": load.acked.commands,
        "refused": load.acked.refused,
        "refusals": dict(load.acked.reasons),
        "unknown_outcome": load.acked.unknown,
        "unplanned_exits": exits,
        **dataclasses.asdict(findings),
    }


def print_table(result: dict[str, Any]) -> None:
    print(f"{'FAULT':32} {'INJECTED':>8} {'RECOVERY P50':>13} {'P99':>8}")
    for kind, row in result["faults"].items():
        p50 = "-" if row["recovery_p50"] is None else f"{row['recovery_p50']:.1f} s"
        p99 = "-" if row["recovery_p99"] is None else f"{row['recovery_p99']:.1f} s"
        print(f"{kind:32} {row['injected']:>8} {p50:>13} {p99:>8}")
    print()
    lines = [
        ("commands acknowledged", result["commands"]),
        ("commands refused (by the domain)", f"{result['refused']} {result['refusals']}"),
        ("commands with unknown outcome", result["unknown_outcome"]),
        ("events (published, in the store)", result["events"]),
        ("messages on Kafka (re-sent)", f"{result['on_kafka']} ({result['resent']})"),
        ("lost", result["lost"]),
        ("out of per-case order", result["out_of_order"]),
        ("acknowledged but missing", result["acked_missing"]),
        ("policy effects", result["effects"]),
        ("duplicated effects", result["duplicated_effects"]),
        ("missed effects", result["missing_effects"]),
        ("views differing from a clean rebuild", ", ".join(result["views_differ"]) or 0),
        ("audit verify", "intact" if result["audit_intact"] else "BROKEN"),
        ("left to consume after the load", result["stuck"]),
        ("unplanned process exits", result["unplanned_exits"] or 0),
    ]
    for label, value in lines:
        print(f"{label:40} {value}")
    for problem in result["problems"]:
        print(f"problem: {problem}")
    print("\nchaos: " + ("PASSED" if result["ok"] else "FAILED"))


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/chaos",
        description="SIGKILL the relay and the consumers, kill partition leaders and restart "
        "PostgreSQL in immediate mode under load; then check nothing was lost or duplicated.",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="the full run (600 s, 60 process kills, 6 broker kills, 3 PostgreSQL restarts)",
    )
    parser.add_argument(
        "--seconds", type=float, default=75, help="load duration of the short run (default 75)"
    )
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--keep", action="store_true", help="leave the run's services running")
    for kind in ("process-kills", "broker-kills", "pg-restarts"):
        parser.add_argument(f"--{kind}", type=int, help=f"how many {kind.replace('-', ' ')}")
    args = parser.parse_args()
    plan = Plan.full(args.seed) if args.full else Plan.short(args.seed, args.seconds)
    counts = {"process_kills": args.process_kills, "broker_kills": args.broker_kills}
    counts["pg_restarts"] = args.pg_restarts
    plan = dataclasses.replace(plan, **{k: v for k, v in counts.items() if v is not None})
    services = Services(
        Path(os.environ.get("NTD_CHAOS_DIR", REPO / ".services" / "chaos")),
        int(os.environ.get("NTD_CHAOS_PG_PORT", "15432")),
        int(os.environ.get("NTD_CHAOS_KAFKA_PORT", "19092")),
    )

    shared = {5432, 9092, 9093}  # scripts/postgres and scripts/kafka's defaults: never fault them
    if services.pg_port in shared or services.kafka_port in shared:
        parser.error("NTD_CHAOS_PG_PORT and NTD_CHAOS_KAFKA_PORT must not be the shared services'")
    configure("console", os.environ.get("NTD_LOG_LEVEL", "warning"))
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # brokers down are the point here

    def log(line: str) -> None:
        print(f"chaos: {line}", file=sys.stderr, flush=True)

    result = run(plan, services, args.keep, log)
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print_table(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
