"""The portal as its users meet it: a real `ntd serve` process on a free port, over the embedded
default or PostgreSQL + Kafka (with the relay and the consumers as their own processes), and a
small world of principals holding tokens. The browser and PostgreSQL tests of the portal (and
scripts/bench.py) build on these."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import httpx

from domain.access import AccessError, Grant, SellerKey
from domain.application import NtdApplication
from domain.case import Listing
from domain.notifier import NotifierKind
from domain.values import Actor, RightType, Role
from ntd.bootstrap import build
from ntd.config import Settings
from tests.integration.conftest import settings_env

REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60.0
"""How long a server or a consumer may take to answer before the test gives up on it."""

ADMIN = Actor.parse("agent:root")
AGENT = Actor.parse("agent:alice")
"""Decides cases (agent and supervisor)."""
SECOND_AGENT = Actor.parse("agent:bruno")
"""Another agent, for the tests where two decide at once."""
AUDITOR = Actor.parse("agent:audrey")
BRAND_USER = Actor.parse("notifier_user:j.moreau")
"""The reporter and notifier admin of the brand (Aurelia)."""
OTHER_BRAND_USER = Actor.parse("notifier_user:k.law")
"""The reporter of another brand (Halcyon), who must not see Aurelia's cases."""
SELLER_USER = Actor.parse("seller:luxe-ops")
MARKETPLACE = "marketly"
SELLER_REF = "luxe-deals-88"
"""The seller of the listings `listing` makes; SELLER_USER is its user."""
EVIDENCE_SHA = "ab" * 32


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a subprocess `ntd` use these settings, quiet but for
    warnings; `extra` adds variables."""
    return settings_env(settings) | {"NTD_LOG_LEVEL": "warning"} | extra


@dataclass
class Process:
    """A child `ntd` process whose output goes to a log file (read when it fails)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    _out: IO[bytes]
    stopped: bool = False
    """Whether stop() was called (a test may stop a consumer on purpose)."""

    def tail(self, chars: int = 4000) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-chars:]

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM (a clean stop), then SIGKILL to its whole process group (its workers too)
        if it has not ended within 20 s."""
        self.stopped = True
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)  # its own group: start_new_session
                self.popen.wait(10)
        self._out.close()


def spawn(name: str, args: Sequence[str], env: dict[str, str], logs: Path) -> Process:
    """Start `python -m ntd ARGS` with its output in LOGS/NAME.log."""
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    out = log.open("ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", "ntd", *args],
        env=env,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a Ctrl-C of pytest reaches it only
        # through stop(), which can end its uvicorn workers with it
    )
    return Process(name, popen, log, out)


def wait_for(
    condition: Callable[[], bool],
    what: str,
    timeout: float = STARTUP_SECONDS,
    pause: float = 0.05,
) -> None:
    """Poll `condition` every `pause` seconds until it holds; fail naming `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(pause)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Served:
    """A running `ntd serve`."""

    url: str
    process: Process
    settings: Settings
    carriers: dict[str, Process] = field(default_factory=dict)
    """The relay and the consumers by name, when on Kafka (on_kafka)."""

    def client(self, token: str | None = None, **options: Any) -> httpx.Client:
        """An HTTP client of this server, with the token as its bearer."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **options)


@contextmanager
def serve(settings: Settings, logs: Path, workers: int = 1, **env: str) -> Iterator[Served]:
    """`ntd serve` over these settings on a free port, once /healthz answers; stopped (SIGTERM)
    on leaving. `env` adds variables (NTD_WEB_RATE=…)."""
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = spawn(f"serve-{port}", args, service_env(settings, **env), logs)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield Served(url, process, settings)
    finally:
        process.stop()


def _wait_healthy(url: str, process: Process) -> None:
    def healthy() -> bool:
        if not process.alive():
            raise AssertionError(
                f"ntd serve exited ({process.popen.returncode}):\n{process.tail()}"
            )
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(healthy, f"{url}/healthz")
    except AssertionError as failed:
        raise AssertionError(f"{failed}\n{process.tail()}") from None


@contextmanager
def carriers(settings: Settings, logs: Path) -> Iterator[list[Process]]:
    """The relay and the projections and policies consumers, each its own process, as in
    production (the topics created first, so the consumers find them)."""
    from consumers.relay import ensure_topics

    ensure_topics(settings.kafka_bootstrap, settings.kafka_partitions, settings.topic_prefix)
    env = service_env(settings)
    with ExitStack() as stack:
        started = []
        for name, args in (
            ("relay", ["relay"]),
            ("projections", ["consume", "projections", "--lag-interval", "1"]),
            ("policies", ["consume", "policies", "--lag-interval", "1"]),
        ):
            process = spawn(name, args, env, logs)
            stack.callback(process.stop)
            started.append(process)
        yield started
        for process in started:
            assert process.alive() or process.stopped, f"{process.name} died:\n{process.tail()}"


# -- the world -------------------------------------------------------------------------------


@dataclass
class World:
    """Who is who on a fresh store: a brand with a verified right and its user, another brand,
    staff, a seller's user and an auditor, each with a token."""

    notifier_id: UUID
    right_id: UUID
    notifier_name: str
    other_notifier_id: UUID
    other_right_id: UUID
    tokens: dict[str, str] = field(default_factory=dict)
    """By role name: admin, agent, second_agent, auditor, brand, other_brand, seller."""


CAST = {
    "admin": ADMIN,
    "agent": AGENT,
    "second_agent": SECOND_AGENT,
    "auditor": AUDITOR,
    "brand": BRAND_USER,
    "other_brand": OTHER_BRAND_USER,
    "seller": SELLER_USER,
}


def make_world(settings: Settings, brand_name: str = "Aurelia") -> World:
    """Build the world in the store of `settings` through the application service (as the
    console would), then close the store: the server opens it on its own."""
    ntd = build(settings)
    try:
        app = ntd.app
        with suppress(AccessError):  # a store that has its first admin already
            app.name_first_admin(ADMIN)
        for who, roles in (
            (AGENT, (Role.AGENT, Role.SUPERVISOR)),
            (SECOND_AGENT, (Role.AGENT,)),
            (AUDITOR, (Role.AUDITOR,)),
        ):
            app.grant_roles(who, [Grant(role=r) for r in roles], ADMIN)
        notifier, right = _brand(app, brand_name, BRAND_USER)
        other, other_right = _brand(app, "Halcyon", OTHER_BRAND_USER)
        seller = SellerKey(marketplace=MARKETPLACE, seller_ref=SELLER_REF)
        app.grant_role(SELLER_USER, Grant(role=Role.SELLER_USER, seller=seller), ADMIN)
        tokens = {role: app.issue_token(who, ADMIN).text for role, who in CAST.items()}
        return World(notifier, right, brand_name, other, other_right, tokens)
    finally:
        ntd.close()


def _brand(app: NtdApplication, name: str, user: Actor) -> tuple[UUID, UUID]:
    notifier = app.register_notifier(
        name, NotifierKind.BRAND, f"legal@{name.lower()}.example", AGENT
    )
    right = app.register_right(notifier, RightType.TRADEMARK, f"TM-{name}", "EU", "cd" * 32, AGENT)
    app.verify_right(notifier, right, AGENT)
    grants = [Grant(role=r, notifier_id=notifier) for r in (Role.NOTIFIER_ADMIN, Role.REPORTER)]
    app.grant_roles(user, grants, ADMIN)
    return notifier, right


def listing(listing_id: str) -> Listing:
    """A listing of SELLER_REF on MARKETPLACE."""
    return Listing(
        marketplace=MARKETPLACE,
        listing_id=listing_id,
        url=f"https://{MARKETPLACE}.example/item/{listing_id}",
        seller_id=SELLER_REF,
    )


def notice_json(notifier_id: UUID, right_id: UUID, listing_ids: Sequence[str]) -> dict[str, Any]:
    """A valid notice as the API takes it (POST /api/v1/notices)."""
    return {
        "notifier_id": str(notifier_id),
        "right_id": str(right_id),
        "submitted_by": BRAND_USER.id,
        "listings": [listing(lid).model_dump(mode="json") for lid in listing_ids],
        "reason_code": "counterfeit",
        "explanation": "The test buy shows counterfeit stitching and a fake hologram.",
        "evidence": [{"kind": "test_buy", "reference": "order 88121", "sha256": EVIDENCE_SHA}],
        "contact": {"name": "Aurelia Legal", "email": "legal@aurelia.example"},
        "good_faith_statement": True,
        "accuracy_statement": True,
        "signature": "/s/ Jeanne Moreau",
    }


@contextmanager
def on_kafka(settings: Settings, logs: Path, workers: int = 1, **env: str) -> Iterator[Served]:
    """Production's shape: the relay and both consumers running, and `ntd serve` (settings
    with the PostgreSQL event store, read models in PostgreSQL, fed from Kafka)."""
    assert settings.feed == "kafka" and settings.event_store == "postgres", settings
    with carriers(settings, logs) as started, serve(settings, logs, workers, **env) as served:
        served.carriers = {process.name: process for process in started}
        yield served
