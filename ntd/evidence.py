"""The evidence operations every entry point shares: the event store's chain (its state,
chaining a store written before it, walking it) and what `ntd audit verify` proves."""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import IO, cast
from uuid import UUID

import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from eventsourcing.persistence import StoredEvent

from domain import catalog
from domain.catalog import CorruptEvent, event_class, is_published
from domain.mapping import event_payload, stored_payload
from domain.values import DomainEvent
from ntd.bootstrap import Ntd, open_store_chain
from ntd.signing import Checkpoint, SigningKeyError, load_key, parse_public, sign
from ntd.store_chain import (
    GENESIS,
    Break,
    ChainReport,
    Row,
    StoreChain,
    recorded_now,
    walk,
)
from projections.audit import AuditRecord
from projections.models import AuditVerification

log = structlog.get_logger("ntd.evidence")


class ChainRefused(RuntimeError):
    """The event store's chain is broken (or missing) where a command needs it whole."""


@dataclass(frozen=True)
class ChainStatus:
    """How far the event store is chained."""

    events: int
    links: int
    last: int
    head: tuple[int, bytes] | None

    @property
    def chained(self) -> bool:
        """Whether every event should have a link (the store has links, or no events)."""
        return self.links > 0 or self.events == 0


def chain_status(ntd: Ntd) -> ChainStatus:
    """Counts of the store's events and links, and the last link."""
    chain = open_store_chain(ntd)
    try:
        events, links, last = chain.counts()
        return ChainStatus(events, links, last, chain.head())
    finally:
        chain.close()


def migrate_chain(ntd: Ntd, progress: Callable[[int], None] | None = None) -> int:
    """Chain a store written before the chain, from GENESIS at its first event; refused
    (AlreadyChained) on a store that has links."""
    chain = open_store_chain(ntd)
    try:
        return chain.migrate(progress)
    finally:
        chain.close()


def walk_store(
    ntd: Ntd,
    start: tuple[int, bytes] = (0, GENESIS),
    heads: dict[int, bytes] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ChainReport:
    """Recompute the store's chain from `start` (a trusted position and link) to its end."""
    chain = open_store_chain(ntd)
    try:
        if start[0] and chain.link_at(start[0]) != start[1]:
            broken = Break(start[0], "its link differs from the checkpoint's")
            return ChainReport(0, start[0], start[1], broken)
        return walk(chain.rows(after=start[0]), start, heads, progress)
    finally:
        chain.close()


# -- signed checkpoints -------------------------------------------------------------------------


def _moment(at: str) -> datetime:
    return datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _due(ntd: Ntd, last: Checkpoint | None, head: int) -> bool:
    if last is None:
        return True
    settings = ntd.settings
    if head - last.position >= settings.checkpoint_events:
        return True
    age = datetime.now(UTC) - _moment(last.at)
    return age >= timedelta(minutes=settings.checkpoint_minutes)


def write_checkpoint(ntd: Ntd, force: bool = False) -> Checkpoint | None:
    """Sign the head of the store's chain if a checkpoint is due (every N events or M minutes,
    or `force`), store it and publish it where Kafka feeds the views; None if none was due.

    The chain is walked from the last checkpoint first, so a checkpoint never vouches for a
    chain broken since. SigningKeyError without a usable key; ChainRefused on a broken chain."""
    key = load_key(ntd.settings.signing_key)
    chain = open_store_chain(ntd)
    try:
        head = chain.head()
        last = chain.latest_checkpoint()
        if head is None or (last is not None and last.position >= head[0]):
            return None
        if not force and not _due(ntd, last, head[0]):
            return None
        if last is not None and not last.valid(key.public_key()):
            raise ChainRefused(
                f"the checkpoint at position {last.position} is not signed by this key"
            )
        report = _walk_from(chain, last)
        if report.broken is not None:
            raise ChainRefused(f"no checkpoint signed: the chain is broken at {report.broken}")
        checkpoint = sign(key, report.position, report.head, recorded_now())
        chain.add_checkpoint(checkpoint)
    finally:
        chain.close()
    log.info("checkpoint.signed", position=checkpoint.position, head=checkpoint.head)
    if ntd.settings.feed == "kafka":
        from consumers.checkpoints import publish_checkpoint

        settings = ntd.settings
        publish_checkpoint(
            settings.kafka_bootstrap,
            settings.kafka_partitions,
            settings.topic_prefix,
            checkpoint.public_key,
            checkpoint.to_json().encode(),
        )
    return checkpoint


def checkpoint_if_due(ntd: Ntd) -> Checkpoint | None:
    """write_checkpoint where a signing key is set up; a missing key or a broken chain is
    logged, never raised (the command that called it did its own work)."""
    if not ntd.settings.signing_key.exists():
        return None
    try:
        return write_checkpoint(ntd)
    except (SigningKeyError, ChainRefused) as error:
        log.warning("checkpoint.not_signed", reason=str(error))
    except Exception as error:  # a broker or database hiccup: the next command tries again
        log.warning("checkpoint.failed", error=str(error))
    return None


def _walk_from(chain: StoreChain, last: Checkpoint | None) -> ChainReport:
    start = (0, GENESIS) if last is None else (last.position, bytes.fromhex(last.head))
    if start[0] and chain.link_at(start[0]) != start[1]:
        return ChainReport(
            0, start[0], start[1], Break(start[0], "its link differs from the checkpoint's")
        )
    return walk(chain.rows(after=start[0]), start)


def checkpoints(ntd: Ntd) -> list[Checkpoint]:
    """Every stored checkpoint, oldest first."""
    chain = open_store_chain(ntd)
    try:
        return chain.checkpoints()
    finally:
        chain.close()


# -- what `ntd audit verify` proves ---------------------------------------------------------------


@dataclass(frozen=True)
class StoreVerification:
    """The store's chain walked and held against its signed checkpoints."""

    report: ChainReport
    checkpoints: int
    """Checkpoints whose signature and head were checked."""
    broken: Break | None
    warning: str | None = None
    published: dict[str, tuple[int, str, bytes]] | None = None
    """The published events walked: event id -> (position, topic, state)."""

    @property
    def ok(self) -> bool:
        return self.broken is None


def signing_public_key(ntd: Ntd) -> Ed25519PublicKey | None:
    """The public half of the configured signing key, if there is one."""
    path = ntd.settings.signing_key
    return load_key(path).public_key() if path.exists() else None


def verify_store(
    ntd: Ntd,
    key: Ed25519PublicKey | None,
    since_checkpoint: bool = False,
    progress: Callable[[int], None] | None = None,
    kept: Sequence[Checkpoint] = (),
) -> StoreVerification:
    """Walk the store's chain (from the latest checkpoint, with `since_checkpoint`) and hold it
    against every stored checkpoint and every one `kept` outside the store: each signed by
    `key`, its head the link recomputed at its position, none beyond the chain's end."""
    chain = open_store_chain(ntd)
    try:
        stored = chain.checkpoints()
        marks = sorted({*stored, *kept}, key=lambda m: (m.position, m.head))
        warning = None
        if key is None and marks:
            key = parse_public(marks[-1].public_key)
            warning = (
                "checkpoints checked against the key they name; give --public-key (or set up "
                "NTD_SIGNING_KEY) to check them against yours"
            )
        for mark in marks:
            if key is not None and not mark.valid(key):
                problem = (
                    "the checkpoint's signature is not valid for the key (forged or re-signed)"
                )
                return StoreVerification(
                    ChainReport(0, 0, GENESIS), 0, Break(mark.position, problem)
                )
        start_mark = marks[-1] if since_checkpoint and marks else None
        heads: dict[int, bytes] = {m.position: b"" for m in marks}
        published: dict[str, tuple[int, str, bytes]] = {}
        start = (
            (0, GENESIS)
            if start_mark is None
            else (start_mark.position, bytes.fromhex(start_mark.head))
        )
        if start[0] and chain.link_at(start[0]) != start[1]:
            moved = Break(start[0], "its link differs from the signed checkpoint's")
            return StoreVerification(ChainReport(0, start[0], start[1]), 1, moved, warning)
        rows = _collecting(chain.rows(after=start[0]), published)
        report = walk(rows, start, heads, progress)
        if report.broken is not None:
            for _ in rows:  # the rest of the published events, for matching the trail
                pass
            return StoreVerification(report, 0, _explained(report.broken), warning, published)
        checked, broken = _held_against(report, heads, marks, start[0])
        if broken is None and key is not None and not marks and report.events:
            problem = (
                "no signed checkpoint anchors the chain (checkpoints deleted, or none signed "
                "yet: `ntd audit checkpoint`)"
            )
            broken = Break(report.position, problem)
        if broken is not None:
            return StoreVerification(report, checked, broken, warning, published)
        return StoreVerification(report, checked, None, warning, published)
    finally:
        chain.close()


def _explained(broken: Break) -> Break:
    """The break, saying so too when its event's stored topic names no event of ntd."""
    if broken.topic is None:
        return broken
    try:
        event_class(broken.topic)
    except CorruptEvent as error:
        return replace(broken, problem=f"{broken.problem}; {error}")
    return broken


def _held_against(
    report: ChainReport, heads: dict[int, bytes], marks: list[Checkpoint], start: int
) -> tuple[int, Break | None]:
    """How many checkpoints from `start` on a walked chain was held against, and the first
    that it fails: one beyond its end (truncation) or one whose head differs (rewritten)."""
    checked = 0
    for mark in marks:
        if mark.position <= start:  # the walk's start: its link was held against it already
            continue
        checked += 1
        if mark.position > report.position:
            problem = (
                f"a signed checkpoint is at position {mark.position:,} but the chain ends at "
                f"{report.position:,} (events deleted at the end, or the whole chain)"
            )
            return checked, Break(report.position, problem)
        if heads.get(mark.position, b"").hex() != mark.head:
            problem = (
                "the chain's link here differs from the signed checkpoint's "
                "(the chain was rewritten and its links recomputed)"
            )
            return checked, Break(mark.position, problem)
    return checked, None


# -- exports a third party checks offline -------------------------------------------------------


def export_chain(ntd: Ntd, out: IO[str]) -> int:
    """Write the store's chain as JSON lines: every event with its link, then every signed
    checkpoint; returns the events written."""
    chain = open_store_chain(ntd)
    count = 0
    try:
        for row in chain.rows():
            record = {
                "position": row.position,
                "aggregate_id": row.originator_id,
                "version": row.version,
                "topic": row.topic,
                "recorded_at": row.recorded_at,
                "state": None if row.state is None else base64.b64encode(row.state).decode(),
                "hash": None if row.hash is None else row.hash.hex(),
            }
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            count += 1
        for mark in chain.checkpoints():
            out.write(json.dumps({"checkpoint": asdict(mark)}, separators=(",", ":")) + "\n")
    finally:
        chain.close()
    return count


def verify_export(lines: Iterable[str], key: Ed25519PublicKey) -> StoreVerification:
    """Check an export of the chain offline: every link recomputed from the genesis link, every
    checkpoint signed by `key` and matching the link at its position, at least one of them."""
    marks: list[Checkpoint] = []
    rows: list[Row] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if "checkpoint" in record:
                marks.append(Checkpoint(**record["checkpoint"]))
                continue
            rows.append(
                Row(
                    int(record["position"]),
                    record["aggregate_id"],
                    record["version"],
                    record["topic"],
                    None if record["state"] is None else base64.b64decode(record["state"]),
                    record["recorded_at"],
                    None if record["hash"] is None else bytes.fromhex(record["hash"]),
                )
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ExportUnreadable(
                f"line {number} of the export is not a chain record ({error})"
            ) from None
    for mark in marks:
        if not mark.valid(key):
            problem = "the checkpoint's signature is not valid for the key (forged or re-signed)"
            return StoreVerification(ChainReport(0, 0, GENESIS), 0, Break(mark.position, problem))
    heads: dict[int, bytes] = {m.position: b"" for m in marks}
    report = walk(iter(rows), (0, GENESIS), heads)
    if report.broken is not None:
        return StoreVerification(report, 0, report.broken)
    checked, broken = _held_against(report, heads, marks, 0)
    if broken is None and not marks:
        broken = Break(report.position, "the export holds no signed checkpoint")
    return StoreVerification(report, checked, broken)


def read_checkpoints(lines: Iterable[str]) -> list[Checkpoint]:
    """Checkpoints kept outside the store: JSON lines as `ntd audit checkpoints` prints them
    (or as the messages of `ntd.checkpoint.v1` carry them)."""
    found = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            found.append(Checkpoint(**record.get("checkpoint", record)))
        except (ValueError, TypeError, AttributeError) as error:
            raise ExportUnreadable(f"line {number} is not a checkpoint ({error})") from None
    return found


class ExportUnreadable(ValueError):
    """A file given as a chain export that is not one."""


def _collecting(rows: Iterator[Row], published: dict[str, tuple[int, str, bytes]]) -> Iterator[Row]:
    """The rows, noting each published event's position, topic and state on the way."""
    for row in rows:
        if row.state is not None and row.topic is not None and _published(row.topic):
            published[f"{row.originator_id}:{row.version}"] = (row.position, row.topic, row.state)
        yield row


@functools.cache
def _published(topic: str) -> bool:
    try:
        return is_published(topic)
    except CorruptEvent:
        return True  # a topic changed outside ntd: the trail row it had no longer matches


@dataclass(frozen=True)
class TrailMatch:
    """Whether every published event has exactly one trail row with the same content."""

    events: int
    rows: int
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class _TrailMatcher:
    """Shown every trail row (in one pass with the trail's own check), it holds each against
    the store's published events."""

    def __init__(self, ntd: Ntd, published: dict[str, tuple[int, str, bytes]], whole: bool):
        self.ntd, self.published, self.whole = ntd, published, whole
        self.seen: set[str] = set()
        self.rows = 0
        self.problems: list[tuple[int, str]] = []

    def __call__(self, row: AuditRecord) -> None:
        self.rows += 1
        stored = self.published.get(row.event_id)
        if stored is None:
            if self.whole:
                problem = f"trail row seq {row.seq} (event {row.event_id}) has no stored event"
                self.problems.append((row.seq, problem))
            return
        if row.event_id in self.seen:
            self.problems.append((stored[0], f"event {row.event_id} has two trail rows"))
            return
        self.seen.add(row.event_id)
        if row.payload == stored[2].decode(errors="replace") and row.event_type == _type_of(
            stored[1]
        ):
            return  # the common case: the payload is the stored state itself
        difference = _differs(self.ntd, row.event_id, row.event_type, row.payload, stored)
        if difference:
            self.problems.append(
                (stored[0], f"position {stored[0]} (event {row.event_id}): {difference}")
            )

    def result(self) -> TrailMatch:
        problems = list(self.problems)
        for event_id, (position, _, _) in self.published.items():
            if event_id not in self.seen:
                problems.append(
                    (position, f"position {position} (event {event_id}) has no trail row")
                )
        first = min(problems)[1] if problems else None
        return TrailMatch(len(self.published), self.rows, first)


@functools.cache
def _type_of(topic: str) -> str | None:
    try:
        return catalog.event_type(event_class(topic))
    except CorruptEvent:
        return None


def verify_trail(
    ntd: Ntd, published: dict[str, tuple[int, str, bytes]], whole: bool = True
) -> tuple[TrailMatch, AuditVerification]:
    """In one pass over the trail: whether it matches the store's published events (`whole`:
    and holds no row of an event the store does not have), and whether its own chains hold."""
    matcher = _TrailMatcher(ntd, published, whole)
    chains = ntd.read_store.verify_audit(matcher)
    return matcher.result(), chains


def _differs(
    ntd: Ntd, event_id: str, event_type: str, payload: str, stored: tuple[int, str, bytes]
) -> str:
    position, topic, state = stored
    try:
        cls = event_class(topic)
    except CorruptEvent as error:
        return f"the stored event is corrupt ({error})"
    if catalog.event_type(cls) != event_type:
        return f"the trail says {event_type}, the store {catalog.event_type(cls)}"
    if payload == stored_payload(cls, state):
        return ""
    try:
        aggregate, version = event_id.rsplit(":", 1)
        event = ntd.app.mapper.to_domain_event(
            StoredEvent(UUID(aggregate), int(version), topic, state)
        )
        if payload == event_payload(cast("DomainEvent", event)).decode():
            return ""
    except Exception as error:  # a state changed outside ntd may not even decode
        return f"the stored event no longer decodes ({error})"
    return "the trail row's content differs from the stored event's (one of them was changed)"
