"""Services that are away, seen from real `ntd` processes: a one-shot command says which one in
one line within the connect timeout; a worker waits for it, says when it serves, and stops
within 5 s of SIGTERM whatever it is doing. The bounds below are a failure mode's stop time
(generous: about 3× what is configured), not benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

from ntd.config import Settings
from tests.integration.conftest import EVENTS_DSN, REPO, settings_env

NTD = Path(sys.executable).parent / "ntd"
ROOT = "agent:root"
CONNECT_TIMEOUT = 2
STOP_WITHIN = 5.0
"""The issue's promise: SIGTERM is answered within 5 s in every state."""


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTD_")}
    env.update(
        NTD_DATA_DIR=str(data_dir),
        NTD_LOG_FORMAT="json",
        NTD_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
        **settings,
    )
    return env


def ntd(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(NTD), *args], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    return done, time.monotonic() - started


@pytest.fixture
def admin_store(tmp_path: Path) -> Path:
    """An embedded store with its first admin (commands check who asks before they connect)."""
    data_dir = tmp_path / "ntd"
    done, _ = ntd(environment(data_dir), "access", "init", ROOT)
    assert done.returncode == 0, done.stderr
    return data_dir


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("ntd: error: ")
    return lines[0]


# -- one-shot commands -------------------------------------------------------------------------


KAFKA_COMMANDS = {
    "events tail": ("events", "tail", "--as", ROOT),
    "rebuild from kafka": ("projections", "rebuild", "--all", "--from", "kafka"),
}


@pytest.mark.parametrize("command", list(KAFKA_COMMANDS))
def test_a_command_with_the_broker_away_is_one_line_within_the_connect_timeout(
    admin_store: Path, command: str
) -> None:
    port = closed_port()
    env = environment(admin_store, NTD_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}")

    done, seconds = ntd(env, *KAFKA_COMMANDS[command])

    assert done.returncode == 1
    assert one_error_line(done) == (
        f"ntd: error: Kafka at 127.0.0.1:{port} (NTD_KAFKA_BOOTSTRAP) did not answer within "
        f"{CONNECT_TIMEOUT} s (KafkaTimeoutError)"
    )
    assert seconds < 3 * CONNECT_TIMEOUT


def test_a_read_store_database_that_is_away_is_one_line_naming_its_variable(
    admin_store: Path,
) -> None:
    port = closed_port()
    env = environment(
        admin_store, NTD_READ_DSN=f"postgresql://ntd:s3cret@127.0.0.1:{port}/ntd_read"
    )

    done, seconds = ntd(env, "case", "list", "--as", ROOT)

    assert done.returncode == 1
    line = one_error_line(done)
    assert line.startswith(
        f"ntd: error: PostgreSQL at 127.0.0.1:{port}/ntd_read (NTD_READ_DSN) cannot be used: "
    )
    assert "Connection refused" in line
    assert "s3cret" not in line
    assert seconds < 3 * CONNECT_TIMEOUT


@pytest.mark.parametrize("schema", ["", "ntd_events"], ids=["public schema", "own schema"])
def test_an_event_store_database_that_is_away_is_one_line_within_the_connect_timeout(
    tmp_path: Path, schema: str
) -> None:
    port = closed_port()
    env = environment(
        tmp_path / "ntd",
        NTD_EVENT_STORE="postgres",
        NTD_EVENTS_DSN=f"postgresql://ntd:s3cret@127.0.0.1:{port}/ntd_events",
        NTD_EVENTS_SCHEMA=schema,
    )

    done, seconds = ntd(env, "case", "list", "--as", ROOT)

    assert done.returncode == 1
    line = one_error_line(done)
    assert line.startswith(
        f"ntd: error: PostgreSQL at 127.0.0.1:{port}/ntd_events (NTD_EVENTS_DSN) cannot be used: "
    )
    assert "s3cret" not in line
    assert seconds < 3 * CONNECT_TIMEOUT


# -- workers -----------------------------------------------------------------------------------


@dataclass
class Worker:
    """A running `ntd` worker and the lines of its log, read as they come."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    seen: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self.seen:
                self.lines.append(line)
                self.seen.notify_all()

    def wait_for(self, text: str, count: int = 1, timeout: float = 90) -> None:
        """Until `count` log lines contain `text`."""
        with self.seen:
            found = self.seen.wait_for(
                lambda: sum(text in line for line in self.lines) >= count, timeout
            )
        assert found, f"no {count}× {text!r} in {timeout} s:\n{''.join(self.lines)}"

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit code and how long it took to come."""
        self.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            code = self.process.wait(timeout=60)
        finally:
            self.process.kill()
        return code, time.monotonic() - started

    @property
    def log(self) -> str:
        with self.seen:
            return "".join(self.lines)


Start = Callable[..., Worker]
"""Starts `ntd` with an environment and arguments, as a Worker."""


@pytest.fixture
def start() -> Iterator[Start]:
    workers: list[Worker] = []

    def starting(env: dict[str, str], *args: str) -> Worker:
        process = subprocess.Popen(
            [str(NTD), *args],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        worker = Worker(process)
        threading.Thread(target=worker.read, daemon=True).start()
        workers.append(worker)
        return worker

    yield starting
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait()


WORKERS = {
    "relay": (("relay",), "relay"),
    "projections consumer": (("consume", "projections"), "consumer"),
    "policies consumer": (("consume", "policies"), "consumer"),
}


@pytest.mark.parametrize("moment", ["connecting", "retrying"])
@pytest.mark.parametrize("name", list(WORKERS))
def test_a_worker_waiting_for_a_broker_that_is_away_stops_within_5_s_of_sigterm(
    admin_store: Path, start: Start, name: str, moment: str
) -> None:
    args, event = WORKERS[name]
    ready = admin_store / "ready"
    env = environment(admin_store, NTD_KAFKA_BOOTSTRAP=f"127.0.0.1:{closed_port()}")
    worker = start(env, *args, "--ready-file", str(ready))

    worker.wait_for(f"{event}.topics_unavailable", count=1 if moment == "connecting" else 2)
    if moment == "connecting":
        time.sleep(1.0)  # inside its next attempt to reach the broker
    code, seconds = worker.stop()

    assert code == 0, worker.log  # it stopped by itself, not ended by the grace's timer
    assert seconds < STOP_WITHIN
    assert "Traceback" not in worker.log
    assert "did not answer within" in worker.log  # each retry logged, with the reason
    assert not ready.exists()


def test_a_relay_waiting_for_an_event_store_that_is_away_stops_within_5_s_of_sigterm(
    tmp_path: Path, start: Start
) -> None:
    port = closed_port()
    env = environment(
        tmp_path / "ntd",
        NTD_EVENT_STORE="postgres",
        NTD_EVENTS_DSN=f"postgresql://ntd:s3cret@127.0.0.1:{port}/ntd_events",
        NTD_KAFKA_BOOTSTRAP=f"127.0.0.1:{closed_port()}",
    )
    worker = start(env, "relay")

    worker.wait_for("relay.store_unavailable", count=2)
    code, seconds = worker.stop()

    assert code == 0, worker.log
    assert seconds < STOP_WITHIN
    assert f"PostgreSQL at 127.0.0.1:{port}/ntd_events (NTD_EVENTS_DSN)" in worker.log
    assert "s3cret" not in worker.log
    assert "Traceback" not in worker.log


def test_a_consumer_waiting_for_a_read_store_that_is_away_stops_within_5_s_of_sigterm(
    admin_store: Path, kafka: str, unique: str, start: Start
) -> None:
    port = closed_port()
    env = environment(
        admin_store,
        NTD_FEED="kafka",
        NTD_READ_DSN=f"postgresql://ntd:s3cret@127.0.0.1:{port}/ntd_read",
        NTD_KAFKA_BOOTSTRAP=kafka,
        NTD_TOPIC_PREFIX=f"{unique}.",
    )
    worker = start(env, "consume", "projections")

    worker.wait_for("consumer.store_unavailable", count=2)
    code, seconds = worker.stop()

    assert code == 0, worker.log
    assert seconds < STOP_WITHIN
    assert f"PostgreSQL at 127.0.0.1:{port}/ntd_read (NTD_READ_DSN)" in worker.log
    assert "Traceback" not in worker.log


def test_the_relay_says_when_it_serves_and_stops_within_5_s_while_publishing(
    tmp_path: Path, kafka: str, unique: str, start: Start
) -> None:
    data_dir, ready = tmp_path / "ntd", tmp_path / "relay.ready"
    env = environment(data_dir, NTD_KAFKA_BOOTSTRAP=kafka, NTD_TOPIC_PREFIX=f"{unique}.")
    demo, _ = ntd(env, "demo", "--size", "0.05", "--weeks", "2")
    assert demo.returncode == 0, demo.stderr
    worker = start(env, "relay", "--page-size", "50", "--ready-file", str(ready))

    worker.wait_for('"relay.ready"')
    assert ready.read_text().strip() == str(worker.process.pid), worker.log
    code, seconds = worker.stop()

    assert code == 0, worker.log
    assert seconds < STOP_WITHIN
    assert not ready.exists()
    assert "Traceback" not in worker.log


@pytest.mark.parametrize("consumer", ["projections", "policies"])
def test_a_consumer_says_when_it_serves_and_stops_within_5_s_mid_batch_or_polling(
    tmp_path: Path, kafka: str, unique: str, start: Start, consumer: str
) -> None:
    data_dir, ready = tmp_path / "ntd", tmp_path / "consumer.ready"
    env = environment(
        data_dir,
        NTD_KAFKA_BOOTSTRAP=kafka,
        NTD_TOPIC_PREFIX=f"{unique}.",
        NTD_FEED="kafka",
        NTD_READ_DSN=f"sqlite:///{tmp_path / 'read.db'}",
    )
    embedded = environment(data_dir, NTD_KAFKA_BOOTSTRAP=kafka, NTD_TOPIC_PREFIX=f"{unique}.")
    demo, _ = ntd(embedded, "demo", "--size", "0.05", "--weeks", "2")
    assert demo.returncode == 0, demo.stderr
    relayed, _ = ntd(env, "relay", "--until-caught-up")
    assert relayed.returncode == 0, relayed.stderr
    worker = start(env, "consume", consumer, "--batch-size", "20", "--ready-file", str(ready))

    worker.wait_for('"consumer.ready"')  # its first batch is applied: more are coming
    assert ready.exists(), worker.log
    code, seconds = worker.stop()

    assert code == 0, worker.log
    assert seconds < STOP_WITHIN
    assert not ready.exists()
    assert "Traceback" not in worker.log


# -- a database that goes away under a running worker ------------------------------------------


def cut_connections(application: str) -> int:
    """End every PostgreSQL session of `application`, as a database restart would."""
    connection = psycopg2.connect(EVENTS_DSN)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = %s",
            (application,),
        )
        (count,) = cursor.fetchone()
    connection.close()
    return int(count)


def named(dsn: str, application: str) -> str:
    """The DSN with an application name, so that the test cuts only its worker's sessions."""
    return f"{dsn}{'&' if '?' in dsn else '?'}application_name={application}"


NEW_NOTIFIER = (
    *("notifier", "register", "--name", "Aurelia Leather", "--kind", "brand"),
    *("--email", "legal@aurelia.example", "--as", ROOT),
)


@pytest.mark.parametrize("consumer", ["projections", "policies"])
def test_a_consumer_whose_database_connection_is_cut_reconnects_and_stops_within_5_s(
    kafka_settings: Settings, unique: str, start: Start, consumer: str
) -> None:
    env = settings_env(kafka_settings) | {
        "NTD_READ_DSN": named(kafka_settings.read_dsn, unique),
        "NTD_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    }
    for seed in (("access", "init", ROOT), ("relay", "--until-caught-up")):
        done, _ = ntd(env, *seed)
        assert done.returncode == 0, done.stderr
    ready = kafka_settings.data_dir / "consumer.ready"
    worker = start(env, "consume", consumer, "--ready-file", str(ready))
    worker.wait_for('"consumer.ready"')

    assert cut_connections(unique) >= 1
    for news in (NEW_NOTIFIER, ("relay", "--until-caught-up")):  # a batch to write
        done, _ = ntd(env, *news)
        assert done.returncode == 0, done.stderr
    worker.wait_for('"consumer.not_ready"')  # the ready file is gone meanwhile
    worker.wait_for('"consumer.ready"', count=2)  # on a new connection
    assert ready.exists()
    code, seconds = worker.stop()

    assert code == 0, worker.log
    assert seconds < STOP_WITHIN
    assert "Traceback" not in worker.log


@pytest.mark.parametrize("encoder", ["--no-encoder-process", "--encoder-process"])
def test_a_relay_whose_event_store_connection_is_cut_reconnects_and_stops_within_5_s(
    pg_settings: Settings, unique: str, start: Start, encoder: str
) -> None:
    env = settings_env(pg_settings) | {
        "NTD_EVENTS_DSN": named(pg_settings.events_dsn, unique),
        "NTD_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
    }
    done, _ = ntd(env, "access", "init", ROOT)
    assert done.returncode == 0, done.stderr
    ready = pg_settings.data_dir / "relay.ready"
    worker = start(env, "relay", encoder, "--ready-file", str(ready))
    worker.wait_for('"relay.ready"')

    assert cut_connections(unique) >= 1
    worker.wait_for('"relay.store_unavailable"')
    worker.wait_for('"relay.ready"', count=2)  # on new connections
    assert ready.exists()
    code, seconds = worker.stop()

    assert code == 0, worker.log
    assert seconds < STOP_WITHIN
    assert "Traceback" not in worker.log
