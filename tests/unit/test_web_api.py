"""The HTTP API through FastAPI's TestClient on an embedded SQLite store: filing, lists with
cursors, decisions with If-Match (412, 428), per-field problems, the body cap, rate limits,
Idempotency-Key, read-your-writes and the audit trail's formats.

`World` (built by `make_world`) is the cast the other web tests share: the first admin, an
agent (also supervisor), an auditor, a seller's user, and two brands each with a reporter."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from domain.access import Grant
from domain.notifier import NotifierKind
from domain.values import Actor, ActorKind, RightType, Role
from ntd.bootstrap import Ntd, build
from ntd.config import Settings
from ntd.web.app import create_app
from ntd.web.settings import WebSettings
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    AUDITOR,
    BRAND_USER,
    CERTIFICATE,
    SELLER,
    FakeClock,
    grant_cast,
    listing_data,
    notice_data,
    reasons,
    register_brand,
)

pytestmark = pytest.mark.sqlite

OTHER_USER = Actor(kind=ActorKind.NOTIFIER_USER, id="carol")
"""The reporter of brand B."""
STRANGER = Actor(kind=ActorKind.AGENT, id="nobody")
"""Holds a token but no role."""


@dataclass
class World:
    """A store with its cast, their tokens and a client of the portal over it."""

    ntd: Ntd
    web: FastAPI
    client: TestClient
    clock: FakeClock
    brand_a: tuple[UUID, UUID]
    brand_b: tuple[UUID, UUID]
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, who: Actor | str) -> dict[str, str]:
        """The Authorization header of `who`'s token."""
        return {"Authorization": f"Bearer {self.tokens[str(who)]}"}

    def file(self, who: Actor = BRAND_USER, brand: str = "a", *listings: str) -> UUID:
        """File a one-listing notice through the API; the new case's id."""
        notifier_id, right_id = self.brand_a if brand == "a" else self.brand_b
        chosen = [listing_data(x) for x in (listings or (f"L-{uuid4().hex[:8]}",))]
        data = notice_data(notifier_id, right_id, chosen, submitted_by=who.id)
        answer = self.client.post("/api/v1/notices", json=data, headers=self.auth(who))
        assert answer.status_code == 201, answer.text
        return UUID(answer.json()["cases"][0]["case_id"])

    def version(self, case_id: UUID, who: Actor = AGENT) -> int:
        answer = self.client.get(f"/api/v1/cases/{case_id}", headers=self.auth(who))
        assert answer.status_code == 200, answer.text
        return int(answer.json()["version"])


def make_world(tmp_path: Path, **web: Any) -> Iterator[World]:
    """The cast on a fresh embedded store, a token each, and the portal over it."""
    settings = Settings(data_dir=tmp_path / "ntd", read_dsn=f"sqlite:///{tmp_path}/ntd/read.db")
    clock = FakeClock()
    ntd = build(settings, clock=clock)
    app = ntd.app
    grant_cast(app)
    brand_a = register_brand(app, "Acme")
    b_id = app.register_notifier("Bravo", NotifierKind.BRAND, "legal@bravo.example", AGENT)
    b_right = app.register_right(b_id, RightType.TRADEMARK, "TM-B", "eu", CERTIFICATE, AGENT)
    app.verify_right(b_id, b_right, AGENT)
    app.grant_role(OTHER_USER, Grant(role=Role.REPORTER, notifier_id=b_id), ADMIN)
    tokens = {
        str(who): app.issue_token(who, ADMIN).text
        for who in (ADMIN, AGENT, AUDITOR, SELLER, BRAND_USER, OTHER_USER, STRANGER)
    }
    portal = create_app(settings, clock=clock, web=WebSettings(**web))
    with TestClient(portal) as client:
        yield World(ntd, portal, client, clock, brand_a, (b_id, b_right), tokens)
    ntd.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def decide(world: World, case_id: UUID, verb: str = "take-down", **headers: str) -> Any:
    body = {"facts": "Test buy 88121: counterfeit hardware, no serial tag"}
    return world.client.post(
        f"/api/v1/cases/{case_id}/{verb}", json=body, headers=world.auth(AGENT) | headers
    )


# -- filing ----------------------------------------------------------------------------------


def test_a_brand_files_a_notice_and_gets_one_case_per_listing(world: World) -> None:
    notifier_id, right_id = world.brand_a
    data = notice_data(notifier_id, right_id, 2)

    answer = world.client.post("/api/v1/notices", json=data, headers=world.auth(BRAND_USER))

    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    assert [c["listing_id"] for c in receipt["cases"]] == ["L-1", "L-2"]
    assert receipt["lane"] == "normal"
    case_id = receipt["cases"][0]["case_id"]
    shown = world.client.get(f"/api/v1/cases/{case_id}", headers=world.auth(BRAND_USER))
    assert shown.json()["state"] == "filed"
    assert shown.headers["etag"] == '"1"'


def test_a_bad_notice_is_a_problem_naming_each_bad_field(world: World) -> None:
    notifier_id, right_id = world.brand_a
    data = notice_data(notifier_id, right_id, explanation="short", good_faith_statement=False)
    del data["signature"]

    answer = world.client.post("/api/v1/notices", json=data, headers=world.auth(BRAND_USER))

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422 and problem["title"] == "invalid input"
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(fields) == {"explanation", "good_faith_statement", "signature"}
    assert fields["signature"] == "missing (required)"
    assert fields["good_faith_statement"] == "must be affirmed (true)"


def test_a_notice_the_domain_refuses_is_422_with_the_cli_s_wording(world: World) -> None:
    _, right_id = world.brand_a
    data = notice_data(world.brand_b[0], right_id, submitted_by=BRAND_USER.id)

    answer = world.client.post("/api/v1/notices", json=data, headers=world.auth(BRAND_USER))

    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "notifier_id", "message": f"no notifier {world.brand_b[0]}"}
    ]


def test_a_body_over_the_cap_is_413(tmp_path: Path) -> None:
    for world in make_world(tmp_path, max_body_bytes=2000):
        notifier_id, right_id = world.brand_a
        data = notice_data(notifier_id, right_id, 40)

        answer = world.client.post("/api/v1/notices", json=data, headers=world.auth(BRAND_USER))

        assert answer.status_code == 413
        assert answer.json()["title"] == "request body too large"


def test_a_chunked_body_over_the_cap_is_413_too(tmp_path: Path) -> None:
    for world in make_world(tmp_path, max_body_bytes=2000):

        def chunks() -> Iterator[bytes]:
            yield b"{" + b" " * 1500
            yield b" " * 1500 + b"}"

        answer = world.client.post(
            "/api/v1/notices",
            content=chunks(),
            headers=world.auth(BRAND_USER) | {"content-type": "application/json"},
        )

        assert answer.status_code == 413


# -- lists -----------------------------------------------------------------------------------


def test_case_lists_page_with_a_cursor_without_repeating_or_skipping(world: World) -> None:
    filed = []
    for n in range(5):
        world.clock.advance(hours=1)
        filed.append(world.file(BRAND_USER, "a", f"P-{n}"))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        answer = world.client.get("/api/v1/cases", params=params, headers=world.auth(AGENT))
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [line["case_id"] for line in page["lines"]]
        pages += 1
        if pages == 1:  # a filing between pages neither repeats nor hides a line
            world.clock.advance(hours=1)
            world.file(BRAND_USER, "a", "P-late")
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [str(c) for c in reversed(filed)]
    assert pages == 3


def test_a_cursor_the_list_never_gave_is_422(world: World) -> None:
    answer = world.client.get(
        "/api/v1/cases", params={"cursor": "bogus"}, headers=world.auth(AGENT)
    )

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "cursor"


def test_lists_filter_by_state_and_a_brand_sees_only_its_own(world: World) -> None:
    mine = world.file(BRAND_USER, "a")
    theirs = world.file(OTHER_USER, "b")
    assert decide(world, mine, **{"If-Match": "1"}).status_code == 200

    taken = world.client.get(
        "/api/v1/cases", params={"state": "taken_down"}, headers=world.auth(AGENT)
    )
    own = world.client.get("/api/v1/cases", headers=world.auth(OTHER_USER))

    assert [x["case_id"] for x in taken.json()["lines"]] == [str(mine)]
    assert [x["case_id"] for x in own.json()["lines"]] == [str(theirs)]


def test_a_seller_lists_its_own_seller_s_cases_without_naming_it(world: World) -> None:
    case_id = world.file(BRAND_USER, "a")

    answer = world.client.get("/api/v1/cases", headers=world.auth(SELLER))

    assert answer.status_code == 200, answer.text
    (line,) = answer.json()["lines"]
    assert line["case_id"] == str(case_id)
    assert line["notifier_name"] is None  # a seller sees who complained by id only


def test_the_queue_is_the_staff_s_and_a_brand_is_refused_it(world: World) -> None:
    case_id = world.file(BRAND_USER, "a")

    staff = world.client.get("/api/v1/queue", headers=world.auth(AGENT))
    brand = world.client.get("/api/v1/queue", headers=world.auth(BRAND_USER))

    assert [x["case_id"] for x in staff.json()] == [str(case_id)]
    assert brand.status_code == 403


# -- decisions -------------------------------------------------------------------------------


def test_a_decision_needs_if_match_and_returns_the_new_version(world: World) -> None:
    case_id = world.file()

    missing = decide(world, case_id)
    done = decide(world, case_id, **{"If-Match": '"1"'})

    assert missing.status_code == 428
    assert missing.json()["code"] == "precondition_required"
    assert done.status_code == 200, done.text
    assert done.json()["case_id"] == str(case_id)
    assert done.json()["state"] == "taken_down"
    assert done.json()["version"] == world.version(case_id) > 1
    assert "counter_notice" in done.json()["deadlines"]


def test_a_decision_on_a_stale_version_is_412_and_changes_nothing(world: World) -> None:
    case_id = world.file()
    assert decide(world, case_id, "decline", **{"If-Match": "1"}).status_code == 200
    version = world.version(case_id)

    stale = decide(world, case_id, "take-down", **{"If-Match": "1"})

    assert stale.status_code == 412
    assert "is at version 2, not 1" in stale.json()["detail"]
    assert world.version(case_id) == version


def test_a_step_the_lifecycle_does_not_allow_is_409(world: World) -> None:
    case_id = world.file()

    answer = world.client.post(
        f"/api/v1/cases/{case_id}/forward", headers=world.auth(AGENT) | {"If-Match": "1"}
    )

    assert answer.status_code == 409
    assert answer.json()["code"] == "illegal_step"


def test_a_bad_statement_of_reasons_names_the_field(world: World) -> None:
    case_id = world.file()

    answer = world.client.post(
        f"/api/v1/cases/{case_id}/take-down",
        json={"facts": "", "territorial_scope": ["DE"]},
        headers=world.auth(AGENT) | {"If-Match": "1"},
    )

    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["facts"]


def test_the_whole_way_through_the_api(world: World) -> None:
    case_id = world.file()
    client, path = world.client, f"/api/v1/cases/{case_id}"
    assert decide(world, case_id, **{"If-Match": "1"}).status_code == 200
    noticed = client.post(
        f"{path}/counter-notice",
        json={"statement": "Genuine stock, invoice 2291", "consent": True},
        headers=world.auth(SELLER),
    )
    assert noticed.status_code == 200, noticed.text
    forwarded = client.post(f"{path}/forward", headers=world.auth(AGENT))
    assert forwarded.json()["state"] == "forwarded_to_notifier"
    sued = client.post(
        f"{path}/litigation",
        json={"court": "LG München I", "reference": "33 O 1/26"},
        headers=world.auth(BRAND_USER),
    )
    assert sued.json()["state"] == "in_litigation"
    said = client.post(
        f"{path}/messages", json={"text": "Court date set"}, headers=world.auth(BRAND_USER)
    )
    assert said.status_code == 200
    talk = client.get(f"{path}/conversation", headers=world.auth(AGENT))
    assert [m["text"] for m in talk.json()] == ["Court date set"]
    assert client.get(f"{path}/conversation", headers=world.auth(SELLER)).status_code == 403
    shown = client.get(path, headers=world.auth(SELLER)).json()
    assert shown["conversation"] is None
    assert [e["event_type"] for e in shown["timeline"]][-1] == "litigation_reported"


def test_identification_is_asked_and_answered_through_the_api(world: World) -> None:
    case_id = world.file()
    path = f"/api/v1/cases/{case_id}"
    asked = world.client.post(
        f"{path}/identification-request",
        json={"question": "Genuine?", "items": [{"kind": "listing", "reference": "L-1"}]},
        headers=world.auth(AGENT),
    )
    assert asked.status_code == 200, asked.text
    needs = world.client.get(
        f"/api/v1/notifiers/{world.brand_a[0]}/needs-action", headers=world.auth(BRAND_USER)
    )
    assert [x["action"] for x in needs.json()] == ["identification"]

    answered = world.client.post(
        f"{path}/identification",
        json={"verdict": "counterfeit", "basis": "No hologram"},
        headers=world.auth(BRAND_USER),
    )

    assert answered.status_code == 200, answered.text
    shown = world.client.get(path, headers=world.auth(AGENT)).json()
    assert shown["identification"]["verdict"] == "counterfeit"


# -- idempotency, rate limits, read-your-writes ----------------------------------------------


def test_an_idempotency_key_replays_the_first_answer(world: World) -> None:
    case_id = world.file()
    key = {"Idempotency-Key": "decide-1", "If-Match": "1"}

    first = decide(world, case_id, **key)
    again = decide(world, case_id, **key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replay"] == "true"
    assert world.version(case_id) == first.json()["version"]


def test_an_idempotency_key_reused_for_another_request_is_422(world: World) -> None:
    first, second = world.file(), world.file()
    key = {"Idempotency-Key": "k-2"}
    assert decide(world, first, "decline", **key, **{"If-Match": "1"}).status_code == 200

    reused = decide(world, second, "decline", **key, **{"If-Match": "1"})

    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


def test_a_failed_command_releases_its_idempotency_key(world: World) -> None:
    case_id = world.file()
    key = {"Idempotency-Key": "k-3", "If-Match": "7"}
    assert decide(world, case_id, **key).status_code == 412

    retried = decide(world, case_id, **(key | {"If-Match": "1"}))

    assert retried.status_code == 200
    assert decide(world, case_id, **(key | {"If-Match": "1"})).json() == retried.json()


def test_a_duplicate_in_flight_is_409(world: World) -> None:
    from ntd.web.idempotency import request_hash

    case_id = world.file()
    body = {
        "facts": "Test buy 88121: counterfeit hardware, no serial tag",
        "ground": None,
        "legal_ground": None,
        "visibility": [],
        "automated_detection": False,
        "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "territorial_scope": [],
        "despite_genuine": False,
    }
    path = f"/api/v1/cases/{case_id}/take-down"
    store = world.web.state.portal.idempotency
    assert store.claim(str(AGENT), "k-5", request_hash("POST", path, body)) is None

    answer = decide(world, case_id, **{"Idempotency-Key": "k-5", "If-Match": "1"})

    assert answer.status_code == 409
    assert answer.json()["code"] == "idempotency_in_flight"


def test_a_token_over_its_rate_is_429_with_retry_after(tmp_path: Path) -> None:
    for world in make_world(tmp_path, rate_per_minute=3):
        answers = [
            world.client.get("/api/v1/me", headers=world.auth(AGENT)).status_code for _ in range(4)
        ]

        assert answers == [200, 200, 200, 429]
        limited = world.client.get("/api/v1/me", headers=world.auth(AGENT))
        assert int(limited.headers["retry-after"]) >= 1
        other = world.client.get("/api/v1/me", headers=world.auth(AUDITOR))
        assert other.status_code == 200  # per token


def test_a_read_with_min_version_waits_for_the_read_models(world: World) -> None:
    case_id = world.file()
    version = decide(world, case_id, **{"If-Match": "1"}).json()["version"]

    answer = world.client.get(
        f"/api/v1/cases/{case_id}", params={"min_version": version}, headers=world.auth(AGENT)
    )
    listed = world.client.get("/api/v1/cases", headers=world.auth(AGENT))

    assert answer.status_code == 200
    assert listed.json()["lines"][0]["state"] == "taken_down"


def test_a_read_model_behind_the_version_asked_is_503_with_retry_after(tmp_path: Path) -> None:
    for world in make_world(tmp_path, read_wait_seconds=0.2):
        case_id = world.file()
        portal = world.web.state.portal
        portal.caught_up = lambda ntd: ntd  # the read models stop following (a lagging feed)
        world.ntd.app.decline(case_id, reasons(), AGENT)

        answer = world.client.get(
            f"/api/v1/cases/{case_id}", params={"min_version": 2}, headers=world.auth(AGENT)
        )

        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"


def test_a_version_the_case_never_reached_is_404_at_once(world: World) -> None:
    case_id = world.file()

    answer = world.client.get(
        f"/api/v1/cases/{case_id}", params={"min_version": 99}, headers=world.auth(AGENT)
    )

    assert answer.status_code == 404
    assert answer.json()["detail"] == f"case {case_id} has only 1 versions, not 99"


def test_a_case_as_it_stood_at_a_version_or_a_time(world: World) -> None:
    case_id = world.file()
    filed_at = world.clock.moment
    world.clock.advance(hours=2)
    decide(world, case_id, **{"If-Match": "1"})

    at_one = world.client.get(
        f"/api/v1/cases/{case_id}", params={"version": 1}, headers=world.auth(AGENT)
    ).json()
    then = world.client.get(
        f"/api/v1/cases/{case_id}",
        params={"as_of": filed_at.isoformat()},
        headers=world.auth(AGENT),
    ).json()

    assert at_one["state"] == then["state"] == "filed"
    assert len(at_one["timeline"]) == 1


# -- dashboards, audit, me -------------------------------------------------------------------


def test_a_brand_reads_its_dashboard_as_of_a_time(world: World) -> None:
    world.file()

    board = world.client.get(
        f"/api/v1/notifiers/{world.brand_a[0]}/dashboard", headers=world.auth(BRAND_USER)
    )
    before = world.client.get(
        f"/api/v1/notifiers/{world.brand_a[0]}/dashboard",
        params={"at": "2020-01-01T00:00:00Z"},
        headers=world.auth(BRAND_USER),
    )

    assert board.status_code == 200, board.text
    assert board.json()["cases"] == 1 and board.json()["name"] == "Acme"
    assert before.json()["cases"] == 0


def test_the_audit_trail_streams_as_json_jsonl_and_csv(world: World) -> None:
    case_id = world.file()
    params = {"case_id": str(case_id)}

    as_json = world.client.get("/api/v1/audit", params=params, headers=world.auth(AUDITOR))
    as_jsonl = world.client.get(
        "/api/v1/audit", params=params | {"format": "jsonl"}, headers=world.auth(AUDITOR)
    )
    as_csv = world.client.get(
        "/api/v1/audit", params=params | {"format": "csv", "limit": 1}, headers=world.auth(AUDITOR)
    )

    rows = as_json.json()
    assert [r["event_type"] for r in rows] == ["filed"]
    lines = [json.loads(x) for x in as_jsonl.text.splitlines()]
    assert lines[0]["hash"] == rows[0]["hash"]
    assert isinstance(lines[0]["payload"], dict)
    assert as_jsonl.headers["content-type"].startswith("application/x-ndjson")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["event_id"] for r in table] == [rows[0]["event_id"]]


def test_an_unknown_event_type_is_refused_naming_the_types(world: World) -> None:
    answer = world.client.get(
        "/api/v1/audit", params={"type": "taken-down"}, headers=world.auth(AUDITOR)
    )

    assert answer.status_code == 422
    assert "taken_down" in answer.json()["errors"][0]["message"]


def test_audit_verify_answers_intact(world: World) -> None:
    world.file()

    answer = world.client.post("/api/v1/audit/verify", headers=world.auth(AUDITOR))

    assert answer.status_code == 200
    assert answer.json()["ok"] is True and answer.json()["rows"] > 0


def test_me_names_the_principal_and_its_grants(world: World) -> None:
    answer = world.client.get("/api/v1/me", headers=world.auth(BRAND_USER))

    assert answer.json()["principal"] == "notifier_user:bob"
    assert answer.json()["grants"] == [
        {"role": "reporter", "notifier_id": str(world.brand_a[0]), "seller": None}
    ]


# -- operations ------------------------------------------------------------------------------


def test_health_readiness_and_metrics(world: World) -> None:
    world.file()

    assert world.client.get("/healthz").json() == {"status": "ok"}
    ready = world.client.get("/readyz")
    metrics = world.client.get("/metrics")

    assert ready.status_code == 200 and ready.json()["event_store"] == "ok"
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.text
    assert 'route="/api/v1/notices",status="201"} 1' in text
    assert "ntd_http_request_duration_seconds_bucket{" in text
    assert "ntd_projection_lag_events" in text


def test_every_response_carries_the_security_headers(world: World) -> None:
    for answer in (
        world.client.get("/healthz"),
        world.client.get("/api/v1/cases"),
        world.client.get("/no/such/page"),
        world.client.get("/docs"),
    ):
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"


def test_an_internal_error_says_nothing_of_the_server(world: World, monkeypatch: Any) -> None:
    from ntd import reads

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals: /etc/passwd line 3")

    monkeypatch.setattr(reads, "queue_lines", broken)
    client = TestClient(world.web, raise_server_exceptions=False)

    answer = client.get("/api/v1/queue", headers=world.auth(AGENT))

    assert answer.status_code == 500
    assert "secret" not in answer.text and "Traceback" not in answer.text
    assert answer.json()["title"] == "internal error"
    assert answer.json()["request_id"] == answer.headers["x-request-id"]


# -- ntd serve -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "70000"], "--port 70000 is not a port number (1 to 65535)"),
        (["--port", "http"], "--port 'http' is not a port number (1 to 65535)"),
    ],
)
def test_serve_refuses_a_bad_port_in_one_line(
    args: list[str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from ntd.cli.kit import NtdGroup
    from ntd.cli.serve import serve

    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path))
    group = NtdGroup("ntd")
    group.add_command(serve)

    result = CliRunner().invoke(group, ["serve", *args])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"ntd: error: {said}"]


def test_serve_refuses_a_port_already_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from click.testing import CliRunner

    from ntd.cli.kit import NtdGroup
    from ntd.cli.serve import serve

    monkeypatch.setenv("NTD_DATA_DIR", str(tmp_path))
    group = NtdGroup("ntd")
    group.add_command(serve)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = CliRunner().invoke(group, ["serve", "--port", str(port)])

    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"ntd: error: cannot listen on 127.0.0.1:{port}")
