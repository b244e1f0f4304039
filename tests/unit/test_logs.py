"""One log stream: the standard library's records (kafka-python's) are rendered by structlog like
ntd's own, with their logger's name, and exceptions come out as tracebacks (console) or as the
structured field `exception` (JSON)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from ntd.config import Settings
from ntd.logs import configure


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Each test configures logging its own way; put back what was there before."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    kafka_level = logging.getLogger("kafka").level
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("kafka").setLevel(kafka_level)


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is JSON: nothing bare in between


def _configure_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, **env: str) -> None:
    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    configure(settings.log_format, settings.log_level)


def _fail() -> None:
    raise ZeroDivisionError("the relay divided by zero")


def test_a_stdlib_record_is_a_json_line_with_its_logger_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure_from_env(monkeypatch, tmp_path, NTD_LOG_FORMAT="json")

    structlog.get_logger("ntd.test_logs").info("relay.lag", lag=3)
    logging.getLogger("kafka.conn").warning("connect to %s failed", "127.0.0.1:9092")
    logging.getLogger("eventsourcing.test").info("opened %d", 1)

    lines = _json_lines(capsys.readouterr().err)
    assert [(line["logger"], line["level"], line["event"]) for line in lines] == [
        ("ntd.test_logs", "info", "relay.lag"),
        ("kafka.conn", "warning", "connect to 127.0.0.1:9092 failed"),
        ("eventsourcing.test", "info", "opened 1"),
    ]
    assert lines[0]["lag"] == 3
    assert all(line["timestamp"].endswith("Z") for line in lines)


def test_structlog_exc_info_is_a_traceback_field_in_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _configure_from_env(monkeypatch, tmp_path, NTD_LOG_FORMAT="json")
    log = structlog.get_logger("ntd.test_logs")

    try:
        _fail()
    except ZeroDivisionError:
        log.error("relay.failed", exc_info=True)
        logging.getLogger("kafka.producer").exception("sender died")

    ours, theirs = _json_lines(capsys.readouterr().err)
    for line, logger in ((ours, "ntd.test_logs"), (theirs, "kafka.producer")):
        assert line["logger"] == logger and line["level"] == "error"
        assert "exc_info" not in line
        assert line["exception"].startswith("Traceback (most recent call last):")
        assert "in _fail" in line["exception"]
        assert line["exception"].rstrip().endswith("ZeroDivisionError: the relay divided by zero")


def test_structlog_exc_info_is_a_traceback_under_the_console_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("console", "info")
    log = structlog.get_logger("ntd.test_logs")

    try:
        _fail()
    except ZeroDivisionError:
        log.error("relay.failed", exc_info=True)
    logging.getLogger("kafka.conn").warning("broker gone")

    err = capsys.readouterr().err
    first, *rest = err.splitlines()
    assert "relay.failed" in first and "[ntd.test_logs]" in first and "error" in first
    traceback = "\n".join(rest)
    assert "Traceback (most recent call last):" in traceback
    assert "in _fail" in traceback
    assert "ZeroDivisionError: the relay divided by zero" in traceback
    assert "broker gone" in rest[-1] and "[kafka.conn]" in rest[-1] and "warning" in rest[-1]
    assert "exc_info" not in first


def test_the_level_applies_to_stdlib_loggers_and_kafka_python_only_speaks_up_from_warnings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("json", "info")
    logging.getLogger("kafka.conn").info("connecting")  # chatter, every reconnect
    logging.getLogger("kafka.conn").warning("node not ready")
    logging.getLogger("ntd.test_logs").debug("too fine")
    structlog.get_logger("ntd.test_logs").debug("too fine as well")

    assert [line["event"] for line in _json_lines(capsys.readouterr().err)] == ["node not ready"]

    configure("json", "error")
    logging.getLogger("kafka.conn").warning("node not ready")
    logging.getLogger("eventsourcing.test").warning("slow")
    structlog.get_logger("ntd.test_logs").warning("below error")

    assert capsys.readouterr().err == ""


def test_configuring_again_replaces_the_handler_instead_of_adding_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("json", "info")
    configure("json", "info")

    logging.getLogger("kafka.conn").warning("once")

    assert [line["event"] for line in _json_lines(capsys.readouterr().err)] == ["once"]
