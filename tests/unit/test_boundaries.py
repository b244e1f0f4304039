"""The last-resort boundary of the command line, store files that are not stores, and the
workers' readiness and patience: whatever goes wrong, one `ntd: error:` line, never a
traceback on stderr, and nothing written."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import pytest
from click.testing import CliRunner, Result
from eventsourcing.persistence import Notification

from consumers.loop import ConsumerLoop
from consumers.loop_config import LoopConfig
from consumers.reach import ServiceAway, with_connect_timeout
from consumers.relay_pages import encode_page
from consumers.sink import Sink
from consumers.stored import published
from domain.mapping import PydanticMapper
from domain.values import CorruptEvent
from ntd.bootstrap import open_policy_store, open_read_store
from ntd.cli import cli
from ntd.cli.kit import UNEXPECTED
from ntd.config import ConfigError
from ntd.logs import FAILURE_LOG
from ntd.workers import Readiness, until_made

ROOT = "agent:root"


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own embedded store and no stray NTD_* settings."""
    for name in list(os.environ):
        if name.startswith("NTD_"):
            monkeypatch.delenv(name)
    where = tmp_path / "ntd"
    monkeypatch.setenv("NTD_DATA_DIR", str(where))
    monkeypatch.setenv("NTD_LOG_FORMAT", "json")
    return where


def ntd(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="ntd")


def stored_events(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "events.db") as db:
        (count,) = db.execute("SELECT count(*) FROM stored_events").fetchone()
    db.close()
    return int(count)


def fail_on_second_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """A defect inside a command's save: the second event of the unit of work does not map."""
    original = PydanticMapper.to_stored_event
    calls = {"n": 0}

    def failing(self: PydanticMapper, event: Any) -> Any:
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            raise RuntimeError("injected defect")
        return original(self, event)

    monkeypatch.setattr(PydanticMapper, "to_stored_event", failing)


# -- the last resort ---------------------------------------------------------------------------


def test_an_unexpected_failure_is_one_line_naming_the_command_and_where_the_details_are(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_second_event(monkeypatch)

    result = ntd("access", "init", ROOT)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"ntd: error: {UNEXPECTED} in `ntd access init` (RuntimeError); details in the log: "
        f"{data_dir / FAILURE_LOG}"
    ]


def test_the_traceback_goes_to_the_failure_log_only(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_second_event(monkeypatch)

    result = ntd("access", "init", ROOT)

    assert "Traceback" not in result.output
    [line] = (data_dir / FAILURE_LOG).read_text().splitlines()
    record = json.loads(line)
    assert record["event"] == "cli.unexpected"
    assert record["command"] == "ntd access init"
    assert "Traceback (most recent call last)" in record["exception"]
    assert "RuntimeError: injected defect" in record["exception"]
    assert (data_dir / FAILURE_LOG).stat().st_mode & 0o777 == 0o600


def test_a_command_that_failed_unexpectedly_wrote_nothing(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_second_event(monkeypatch)
    assert ntd("access", "init", ROOT).exit_code == 1
    monkeypatch.undo()
    monkeypatch.setenv("NTD_DATA_DIR", str(data_dir))

    assert stored_events(data_dir) == 0
    assert ntd("access", "init", ROOT).exit_code == 0  # not half done: it can be done now


def test_with_the_debug_log_level_the_traceback_is_logged_where_the_log_goes_too(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_second_event(monkeypatch)
    monkeypatch.setenv("NTD_LOG_LEVEL", "debug")

    result = ntd("access", "init", ROOT)

    assert result.exit_code == 1
    assert "RuntimeError: injected defect" in result.stderr
    assert f"ntd: error: {UNEXPECTED} in `ntd access init`" in result.stderr


def test_a_failure_log_that_cannot_be_written_is_said_on_the_same_line(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fail_on_second_event(monkeypatch)
    ntd("access", "init", ROOT)  # creates the store, fails before its first event
    (data_dir / FAILURE_LOG).unlink()
    (data_dir / FAILURE_LOG).mkdir()

    result = ntd("access", "init", ROOT)

    [line] = result.stderr.splitlines()
    assert line.startswith(f"ntd: error: {UNEXPECTED} in `ntd access init` (RuntimeError); ")
    assert "NTD_LOG_LEVEL=debug" in line


def test_a_service_that_is_away_is_one_line_not_an_unexpected_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def away(*_: Any, **__: Any) -> Any:
        raise ServiceAway("Kafka at 127.0.0.1:1 (NTD_KAFKA_BOOTSTRAP) did not answer within 2 s")

    assert ntd("access", "init", ROOT).exit_code == 0
    monkeypatch.setattr("consumers.tail.tail", away)

    result = ntd("events", "tail", "--as", ROOT)

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "ntd: error: Kafka at 127.0.0.1:1 (NTD_KAFKA_BOOTSTRAP) did not answer within 2 s"
    ]


# -- store files that are not stores -----------------------------------------------------------


def test_an_event_store_that_is_not_a_database_is_named_with_its_variable(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "events.db").write_text("these are my notes, not a database\n")

    result = ntd("case", "list", "--as", ROOT)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"ntd: error: the store '{data_dir / 'events.db'}' (from NTD_DATA_DIR) is not an "
        "SQLite database"
    ]


def test_an_event_store_that_is_a_directory_is_named_with_its_variable(data_dir: Path) -> None:
    (data_dir / "events.db").mkdir(parents=True)

    result = ntd("case", "list", "--as", ROOT)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"ntd: error: the store '{data_dir / 'events.db'}' (from NTD_DATA_DIR) is a directory, "
        "not an SQLite database file"
    ]


def test_a_read_store_that_is_not_a_database_is_named_with_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"\x00\x01 not sqlite" * 100)
    monkeypatch.setenv("NTD_READ_DSN", f"sqlite:///{junk}")

    result = ntd("case", "list", "--as", ROOT)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"ntd: error: the store '{junk}' (from NTD_READ_DSN) is not an SQLite database"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_a_store_that_cannot_be_read_is_named_with_its_variable(data_dir: Path) -> None:
    assert ntd("access", "init", ROOT).exit_code == 0
    (data_dir / "events.db").chmod(0)

    result = ntd("case", "list", "--as", ROOT)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"ntd: error: the store '{data_dir / 'events.db'}' (from NTD_DATA_DIR) cannot be read: "
        "Permission denied"
    ]


def test_a_store_under_a_file_is_named_with_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plain").write_text("a file")
    monkeypatch.setenv("NTD_READ_DSN", f"sqlite:///{tmp_path / 'plain' / 'read.db'}")

    result = ntd("case", "list", "--as", ROOT)

    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ntd: error: the store '{tmp_path / 'plain' / 'read.db'}' (from ")
    assert "NTD_READ_DSN) cannot be read: Not a directory" in line


def test_a_read_dsn_of_an_unknown_kind_is_named_with_its_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ntd("access", "init", ROOT).exit_code == 0
    monkeypatch.setenv("NTD_READ_DSN", "mysql://ntd@127.0.0.1/ntd_read")

    result = ntd("case", "list", "--as", ROOT)

    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("ntd: error: NTD_READ_DSN 'mysql://ntd@127.0.0.1/ntd_read' is not ")


# -- reaching services -------------------------------------------------------------------------


def test_a_postgresql_url_is_given_the_connect_timeout_unless_it_has_one() -> None:
    assert with_connect_timeout("postgresql://u:p@h:5/db", 3) == (
        "postgresql://u:p@h:5/db?connect_timeout=3"
    )
    assert with_connect_timeout("postgresql://h/db?connect_timeout=9&sslmode=off", 3) == (
        "postgresql://h/db?connect_timeout=9&sslmode=off"
    )
    assert with_connect_timeout("sqlite:///x.db", 3) == "sqlite:///x.db"


def test_a_connect_timeout_that_is_not_a_number_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NTD_CONNECT_TIMEOUT", "soon")
    monkeypatch.setenv("NTD_EVENT_STORE", "postgres")

    result = ntd("case", "list", "--as", ROOT)

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "ntd: error: NTD_CONNECT_TIMEOUT='soon': expected a whole number"
    ]


class RecordedWaits(threading.Event):
    """A stop cue that is never set and does not wait: it records how long it was asked to."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return False


def test_a_worker_retries_a_service_that_is_away_until_it_answers_backing_off() -> None:
    answers: list[str | Exception] = [ServiceAway("away"), ServiceAway("away"), "connected"]

    def connect() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    stop = RecordedWaits()

    assert until_made(stop, "test.unavailable", connect) == "connected"
    assert stop.waits == [0.5, 1.0]


def test_a_worker_told_to_stop_while_a_service_is_away_gives_up_at_once() -> None:
    stop = threading.Event()

    def connect() -> str:
        stop.set()  # SIGTERM while connecting
        raise ServiceAway("away")

    assert until_made(stop, "test.unavailable", connect) is None


def test_a_consumer_told_to_stop_while_the_broker_is_away_stops_without_a_consumer() -> None:
    stop = threading.Event()
    attempts: list[int] = []

    def no_broker(_: LoopConfig) -> Any:
        attempts.append(1)
        if len(attempts) == 2:
            stop.set()
        raise ServiceAway("Kafka at 127.0.0.1:1 (NTD_KAFKA_BOOTSTRAP) did not answer")

    config = LoopConfig("projections", max_backoff=0.01)
    loop = ConsumerLoop(config, sink=cast(Sink, None), consumer_factory=no_broker)

    loop.run(stop)

    assert len(attempts) == 2
    assert loop.consumer is None


def test_the_ready_file_exists_exactly_while_the_worker_serves(tmp_path: Path) -> None:
    path = tmp_path / "ready"
    path.write_text("left by a process that was killed")

    ready = Readiness("relay", path)
    assert not path.exists()  # a stale file from a killed worker says nothing
    ready(True)
    assert path.read_text() == f"{os.getpid()}\n"
    ready(False)
    assert not path.exists()
    ready(True)
    ready.withdraw()
    assert not path.exists()


def test_a_worker_deaf_to_the_stop_cue_is_ended_after_the_grace(tmp_path: Path) -> None:
    deaf = (
        "import sys, time\n"
        "from ntd.cli.kit import stop_on_signals\n"
        "from ntd.logs import configure\n"
        "configure('json')\n"
        "stop_on_signals(grace=0.5)\n"
        "print('listening', flush=True)\n"
        "time.sleep(30)  # a client call that never looks at the cue\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", deaf], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "listening\n"

    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    code = process.wait(timeout=20)

    assert code == 128 + signal.SIGTERM
    assert time.monotonic() - started < 5
    assert process.stderr is not None and '"worker.stop_forced"' in process.stderr.read()


# -- a store changed outside ntd ---------------------------------------------------------------


def foreign_row(topic: str, position: int = 7) -> Notification:
    return Notification(
        id=position, originator_id=uuid4(), originator_version=1, topic=topic, state=b"{}"
    )


def test_a_stored_topic_that_names_no_event_of_ntd_is_parked_naming_its_position() -> None:
    page = encode_page([foreign_row("this:x")], 7, mapper=cast(Any, None))

    assert page.messages == []
    [parked] = page.parked
    assert parked.reason == (
        "CorruptEvent: event store position 7: stored topic 'this:x' names no event of ntd"
    )
    assert "this" not in sys.modules  # the stored topic imported nothing


def test_a_rebuild_meeting_a_foreign_topic_names_its_position() -> None:
    with pytest.raises(CorruptEvent, match="^event store position 12: stored topic 'os:system'"):
        published(foreign_row("os:system", 12))


def test_a_read_store_opened_by_its_url_is_checked_too(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 10)

    for opening in (
        lambda: open_read_store(f"sqlite:///{junk}"),
        lambda: open_policy_store(f"sqlite:///{junk}", 90),
    ):
        with pytest.raises(ConfigError, match="from NTD_READ_DSN.* is not an SQLite database"):
            opening()
