"""Settings from the environment, with defaults that run on a bare machine (embedded SQLite)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from pydantic import ValidationError

from consumers.contracts import DEFAULT_SCHEMA_BASE, check_schema_base
from domain.calendar import BusinessCalendar
from domain.rules import Rules


class ConfigError(ValueError):
    """An environment variable holds something ntd cannot use."""


VARIABLES = {
    "NTD_DATA_DIR": "where the embedded SQLite stores live (default ~/.local/share/ntd)",
    "NTD_EVENT_STORE": "`sqlite` (default) or `postgres`",
    "NTD_EVENTS_DSN": "PostgreSQL event store, e.g. postgresql://ntd:ntd@127.0.0.1:5432/ntd_events",
    "NTD_EVENTS_SCHEMA": "PostgreSQL schema of the event store tables (default public)",
    "NTD_READ_DSN": "read models: sqlite:///PATH (default: DATA_DIR/read.db) or postgresql://…",
    "NTD_FEED": "what feeds the projections: `log` (notification log, default) or `kafka`",
    "NTD_KAFKA_BOOTSTRAP": "Kafka bootstrap servers (default 127.0.0.1:9092)",
    "NTD_KAFKA_PARTITIONS": "partitions per topic created by the relay (default 6)",
    "NTD_TOPIC_PREFIX": "prefix for every topic name, e.g. `staging.` (default none)",
    "NTD_SCHEMA_BASE_URI": "absolute URI the relay's ce_dataschema headers start with"
    f" (`<base><ce_type>.json`; default {DEFAULT_SCHEMA_BASE})",
    "NTD_HOLIDAYS": "holidays, ISO dates separated by commas or spaces",
    "NTD_HOLIDAYS_FILE": "a file of holidays, one ISO date per line",
    "NTD_RULES": 'JSON overriding policy numbers, e.g. {"counter_notice_days": 14}',
    "NTD_NOW": "pin the clock to an ISO time (scripts, rehearsals)",
    "NTD_LOG_FORMAT": "`console` (default on a terminal) or `json`",
    "NTD_LOG_LEVEL": "debug, info (default), warning, error",
}


@dataclass(frozen=True)
class Settings:
    """Everything the composition root needs to build ntd."""

    data_dir: Path
    event_store: str = "sqlite"
    events_dsn: str = "postgresql://ntd:ntd@127.0.0.1:5432/ntd_events"
    events_schema: str = ""
    read_dsn: str = ""
    feed: str = "log"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_partitions: int = 6
    topic_prefix: str = ""
    schema_base: str = DEFAULT_SCHEMA_BASE
    """Absolute URI the published schemas live under: ce_dataschema is `<base><ce_type>.json`."""
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    rules: Rules = field(default_factory=Rules)
    now: datetime | None = None
    log_format: str = "auto"
    log_level: str = "info"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read NTD_* variables; a wrong value raises ConfigError naming the variable."""
        env = os.environ if environ is None else environ
        data_dir = Path(
            env.get("NTD_DATA_DIR")
            or Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "ntd"
        ).expanduser()
        store = _choice(env, "NTD_EVENT_STORE", "sqlite", ("sqlite", "postgres"))
        return cls(
            data_dir=data_dir,
            event_store=store,
            events_dsn=env.get("NTD_EVENTS_DSN", cls.events_dsn),
            events_schema=env.get("NTD_EVENTS_SCHEMA", ""),
            read_dsn=env.get("NTD_READ_DSN") or f"sqlite:///{data_dir / 'read.db'}",
            feed=_choice(env, "NTD_FEED", "log", ("log", "kafka")),
            kafka_bootstrap=env.get("NTD_KAFKA_BOOTSTRAP", cls.kafka_bootstrap),
            kafka_partitions=_int(env, "NTD_KAFKA_PARTITIONS", 6),
            topic_prefix=env.get("NTD_TOPIC_PREFIX", ""),
            schema_base=_schema_base(env),
            calendar=_calendar(env),
            rules=_rules(env),
            now=_time(env, "NTD_NOW"),
            log_format=_choice(env, "NTD_LOG_FORMAT", "auto", ("auto", "console", "json")),
            log_level=_choice(env, "NTD_LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
        )

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's own variables for the chosen event store."""
        if self.event_store == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.db"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        url = urlparse(self.events_dsn)
        if url.scheme not in ("postgresql", "postgres") or not url.path.strip("/"):
            raise ConfigError(f"NTD_EVENTS_DSN {self.events_dsn!r} is not postgresql://…/DBNAME")
        schema = {"POSTGRES_SCHEMA": self.events_schema} if self.events_schema else {}
        return {
            **schema,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.strip("/"),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "ntd"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            # Not the library's insert function: it relies on NOTIFY, whose lock is only taken at
            # commit, so concurrent writers can commit notification ids out of order and a
            # follower of the log passes over an id that commits a moment later (measured: 7 of
            # 10,000 events never relayed with three writers). Our recorder's function takes
            # LOCK TABLE … IN EXCLUSIVE MODE first, so ids commit in order, in one round trip.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "APPLICATION_RECORDER_TOPIC": "ntd.event_writer:PostgresOutboxRecorder",
            "POSTGRES_POOL_SIZE": "4",
        }


def _choice(env: Mapping[str, str], name: str, default: str, options: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in options:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(options)}")
    return value


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value < 1:
        raise ConfigError(f"{name}={raw!r}: must be at least 1")
    return value


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """A variable holding a whole number of at least 1, or `default` when it is unset; a
    wrong value raises ConfigError naming it (for settings kept outside this module)."""
    return _int(env, name, default)


def _schema_base(env: Mapping[str, str]) -> str:
    raw = env.get("NTD_SCHEMA_BASE_URI") or DEFAULT_SCHEMA_BASE
    try:
        return check_schema_base(raw.strip())
    except ValueError as error:
        raise ConfigError(f"NTD_SCHEMA_BASE_URI: {error}") from None


def _time(env: Mapping[str, str], name: str) -> datetime | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError as error:
        raise ConfigError(f"{name}={raw!r}: {error}") from None


def parse_time(text: str) -> datetime:
    """An ISO date or time; naive values are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date or time (e.g. 2026-11-28T09:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _calendar(env: Mapping[str, str]) -> BusinessCalendar:
    text = env.get("NTD_HOLIDAYS", "")
    path = env.get("NTD_HOLIDAYS_FILE")
    if path:
        try:
            text += "\n" + Path(path).read_text()
        except OSError as error:
            raise ConfigError(f"NTD_HOLIDAYS_FILE={path!r}: {error.strerror}") from None
    lines = [line.split("#")[0] for line in text.splitlines()]
    try:
        return BusinessCalendar.parse(" ".join(lines))
    except ValueError as error:
        raise ConfigError(f"NTD_HOLIDAYS: {error}") from None


def _rules(env: Mapping[str, str]) -> Rules:
    raw = env.get("NTD_RULES")
    if not raw:
        return Rules()
    try:
        return Rules.model_validate(json.loads(raw))
    except json.JSONDecodeError as error:
        raise ConfigError(f"NTD_RULES is not JSON: {error.msg}") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"NTD_RULES: {problems}") from None
