"""Settings from the environment, with defaults that run on a bare machine (embedded SQLite)."""

from __future__ import annotations

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
from domain.values import TimeRange, problem_text
from ntd.inputs import InputError, decode, parse_json, read_file


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
    "NTD_MAX_INPUT_BYTES": "largest notice file, JSON on stdin or holidays file read"
    " (default 2000000)",
    "NTD_MAX_CERTIFICATE_BYTES": "largest certificate file hashed (default 100000000)",
    "NTD_TIME_MIN_YEAR": "earliest year of a time ntd accepts (default 2000)",
    "NTD_TIME_MAX_YEAR": "latest year of a time ntd accepts (default 2200)",
    "NTD_LOG_FORMAT": "`console` (default on a terminal) or `json`",
    "NTD_LOG_LEVEL": "debug, info (default), warning, error",
    "NTD_ARCHIVE_KEY": "key of the public archive's seller pseudonyms (>= 32 characters; default:"
    " a 0600 key file in the data dir)",
    "NTD_SIGNING_KEY": "the Ed25519 private key file that signs the event store's checkpoints"
    " (`ntd keys init` makes it, 0600; default ~/.config/ntd/signing.key)",
    "NTD_CHECKPOINT_EVENTS": "sign a checkpoint of the event store's chain every this many events"
    " (default 1000)",
    "NTD_CHECKPOINT_MINUTES": "…or this many minutes after the last one, if events came since"
    " (default 10)",
    "NTD_TDB_TOKEN": "the EU Transparency Database's API token for `ntd transparency statements"
    " --submit`",
}


MAX_INPUT_BYTES = 2_000_000
"""A notice of 300 listings with long explanations is under 400 KB; 2 MB leaves room and
stops a device or FIFO given as a file."""
MAX_CERTIFICATE_BYTES = 100_000_000
"""A registration certificate is a PDF of some megabytes; it is hashed in chunks anyway."""
MAX_YEAR = 9000
"""The latest NTD_TIME_MAX_YEAR: the longest rule period added to it stays below datetime's
year 9999."""


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
    max_input_bytes: int = MAX_INPUT_BYTES
    max_certificate_bytes: int = MAX_CERTIFICATE_BYTES
    time_min_year: int = TimeRange.first_year
    time_max_year: int = TimeRange.last_year
    log_format: str = "auto"
    log_level: str = "info"
    signing_key: Path = field(default_factory=lambda: _config_home({}) / "signing.key")
    """The private key that signs checkpoints: outside every database, so a copy of the data
    directory cannot re-sign a forged chain."""
    checkpoint_events: int = 1000
    checkpoint_minutes: int = 10

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read NTD_* variables; a wrong value raises ConfigError naming the variable."""
        env = os.environ if environ is None else environ
        data_dir = Path(
            env.get("NTD_DATA_DIR")
            or Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "ntd"
        ).expanduser()
        store = _choice(env, "NTD_EVENT_STORE", "sqlite", ("sqlite", "postgres"))
        limit = _int(env, "NTD_MAX_INPUT_BYTES", MAX_INPUT_BYTES)
        times = time_range(env)
        return cls(
            data_dir=data_dir,
            event_store=store,
            events_dsn=env.get("NTD_EVENTS_DSN", cls.events_dsn),
            events_schema=env.get("NTD_EVENTS_SCHEMA", ""),
            read_dsn=env.get("NTD_READ_DSN") or f"sqlite:///{data_dir / 'read.db'}",
            feed=_choice(env, "NTD_FEED", "log", ("log", "kafka")),
            kafka_bootstrap=_bootstrap(env.get("NTD_KAFKA_BOOTSTRAP", cls.kafka_bootstrap)),
            kafka_partitions=_int(env, "NTD_KAFKA_PARTITIONS", 6),
            topic_prefix=env.get("NTD_TOPIC_PREFIX", ""),
            schema_base=_schema_base(env),
            calendar=_calendar(env, limit),
            rules=_rules(env),
            now=_time(env, "NTD_NOW", times),
            max_input_bytes=limit,
            max_certificate_bytes=_int(env, "NTD_MAX_CERTIFICATE_BYTES", MAX_CERTIFICATE_BYTES),
            time_min_year=times.first_year,
            time_max_year=times.last_year,
            log_format=_choice(env, "NTD_LOG_FORMAT", "auto", ("auto", "console", "json")),
            log_level=_choice(env, "NTD_LOG_LEVEL", "info", ("debug", "info", "warning", "error")),
            signing_key=Path(
                env.get("NTD_SIGNING_KEY") or _config_home(env) / "signing.key"
            ).expanduser(),
            checkpoint_events=_int(env, "NTD_CHECKPOINT_EVENTS", 1000),
            checkpoint_minutes=_int(env, "NTD_CHECKPOINT_MINUTES", 10),
        )

    @property
    def time_range(self) -> TimeRange:
        """The years a time given to ntd may fall in."""
        return TimeRange(self.time_min_year, self.time_max_year)

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's own variables for the chosen event store."""
        if self.event_store == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.db"),
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": "ntd.store_chain:ChainedSqliteRecorder",
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


def _config_home(env: Mapping[str, str]) -> Path:
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "ntd"


def _bootstrap(text: str) -> str:
    """Kafka's bootstrap servers, HOST:PORT[,HOST:PORT...] (an IPv6 host in brackets),
    checked here: the client library fails on a malformed one with no word of the variable."""
    for server in text.split(","):
        host, _, port = server.strip().rpartition(":")
        bare = host.removeprefix("[").removesuffix("]")
        if (
            not bare
            or ":" in bare
            and not host.startswith("[")
            or not port.isascii()
            or not (port.isdecimal() and 1 <= int(port) <= 65535)
        ):
            raise ConfigError(
                f"NTD_KAFKA_BOOTSTRAP={text[:80]!r}: expected HOST:PORT[,HOST:PORT...] "
                "(e.g. 127.0.0.1:9092)"
            )
    return text


def _choice(env: Mapping[str, str], name: str, default: str, options: tuple[str, ...]) -> str:
    value = (env.get(name) or default).strip().lower()
    if value not in options:
        raise ConfigError(f"{name}={value!r}: expected one of {', '.join(options)}")
    return value


def _int(
    env: Mapping[str, str], name: str, default: int, least: int = 1, most: int = 2**63 - 1
) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw[:30])  # a longer number is out of range anyway, and int() of it is slow
    except ValueError:
        raise ConfigError(f"{name}={raw[:40]!r}: expected a whole number") from None
    if not least <= value <= most or len(raw) > 30:
        raise ConfigError(f"{name}={raw[:40]!r}: must be from {least} to {most}")
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


def time_range(env: Mapping[str, str] | None = None) -> TimeRange:
    """The years a time may fall in, from NTD_TIME_MIN_YEAR and NTD_TIME_MAX_YEAR."""
    env = os.environ if env is None else env
    first = _int(env, "NTD_TIME_MIN_YEAR", TimeRange.first_year, 1900, MAX_YEAR)
    last = _int(env, "NTD_TIME_MAX_YEAR", TimeRange.last_year, 1900, MAX_YEAR)
    if last < first:
        raise ConfigError(f"NTD_TIME_MAX_YEAR={last} is before NTD_TIME_MIN_YEAR={first}")
    return TimeRange(first, last)


def _time(env: Mapping[str, str], name: str, times: TimeRange) -> datetime | None:
    raw = env.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw, times)
    except ValueError as error:
        raise ConfigError(f"{name}={raw[:40]!r}: {error}") from None


def parse_time(text: str, times: TimeRange | None = None) -> datetime:
    """An ISO date or time within the accepted years (`times`, default: from the
    environment); naive values are taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise ValueError(f"{shown!r} is not an ISO date or time (e.g. 2026-11-28T09:00Z)") from None
    return sane_time(moment if moment.tzinfo else moment.replace(tzinfo=UTC), times)


def sane_time(moment: datetime, times: TimeRange | None = None) -> datetime:
    """The moment if it falls within the accepted years (`times`, default: from the
    environment), else ValueError saying so; every time ntd reads passes here."""
    return (times or time_range()).check(moment, "time")


def _calendar(env: Mapping[str, str], limit: int) -> BusinessCalendar:
    text = env.get("NTD_HOLIDAYS", "")
    path = env.get("NTD_HOLIDAYS_FILE")
    if path:
        try:
            text += "\n" + decode(read_file(path, limit), path)
        except OSError as error:
            raise ConfigError(f"NTD_HOLIDAYS_FILE={path!r}: {error.strerror}") from None
        except InputError as error:
            raise ConfigError(f"NTD_HOLIDAYS_FILE: {error}") from None
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
        return Rules.model_validate(parse_json(raw, "NTD_RULES"))
    except InputError as error:
        raise ConfigError(str(error)) from None
    except ValidationError as error:
        problems = "; ".join(problem_text(e) for e in error.errors())
        raise ConfigError(f"NTD_RULES: {problems}") from None
