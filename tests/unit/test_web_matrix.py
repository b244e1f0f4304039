"""The authorization matrix, generated: every /api/v1 route × every role × its own party's
records and another party's. What each cell must answer is read from the permission table
(domain.permissions.PERMISSIONS) through the row each route names (`x-permission`); a route
without a row, or whose row is not in the table, fails. Plus the cross-brand rules by name:
brand A gets 404 for brand B's case, dashboard and conversation; an auditor's POSTs are 403;
no token is 401."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from domain.access import Grant, SellerKey
from domain.notice import parse_notice
from domain.permissions import PERMISSIONS, Scope
from domain.values import Actor, ActorKind, Role
from ntd.config import Settings
from ntd.web import api
from ntd.web.app import create_app
from tests.unit.domain_fixtures import ADMIN, AUDITOR, BRAND_USER, listing_data, notice_data
from tests.unit.test_web_api import OTHER_USER, World, make_world

pytestmark = pytest.mark.sqlite

ROLES = [r for r in Role if r is not Role.SYSTEM]
NOTIFIER_ROLES = {Role.NOTIFIER_ADMIN, Role.REPORTER, Role.REGISTERED_AGENT}
EVIDENCE = [{"kind": "photo", "reference": "box.jpg", "sha256": "a" * 64}]
BODIES: dict[str, Any] = {
    "take-down": {"facts": "Counterfeit hardware"},
    "decline": {"facts": "Genuine goods"},
    "confirm": {"facts": "Review: counterfeit"},
    "reverse": {"facts": "Review: authorised reseller"},
    "uphold-appeal": {"facts": "Invoice verified"},
    "reject-appeal": {"facts": "Invoice forged"},
    "clarification-request": {"question": "Which mark?"},
    "clarification": {"answer": "EUTM 018234567"},
    "identification-request": {"question": "Genuine?"},
    "identification": {"verdict": "counterfeit", "basis": "No hologram", "evidence": EVIDENCE},
    "messages": {"text": "Test buy shipped"},
    "counter-notice": {"statement": "Genuine stock", "consent": True},
    "forward": None,
    "litigation": {"court": "LG Hamburg", "reference": "312 O 1/31"},
    "withdraw": {"reason": "Settled"},
    "close": {"reason": "Done"},
    "verify": None,
}
"""A valid body of every POST route by its last path segment (the notice is made per actor)."""


@dataclass(frozen=True)
class Route:
    """One operation of the API as the app publishes it."""

    method: str
    path: str
    extra: dict[str, Any]


def api_routes(app: FastAPI) -> list[Route]:
    """Every /api/v1 operation of the app: its OpenAPI document is generated from the app's
    routes (this FastAPI nests included routers, so `app.routes` holds them indirectly); the
    router's own routes must all be in it, hidden ones included."""
    published = [
        Route(method.upper(), path, operation)
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
        if path.startswith("/api/v1")
    ]
    declared = {
        (method, r.path)
        for r in api.router.routes
        if isinstance(r, APIRoute)
        for method in r.methods
    }
    assert declared == {(r.method, r.path) for r in published}, (
        "a route is missing from the document"
    )
    return published


def row_of(route: Route) -> str:
    row = route.extra.get("x-permission")
    assert row is not None, f"{route.path} names no row of the permission table (x-permission)"
    assert row in PERMISSIONS, f"{route.path} names {row!r}, which is not in the table"
    return str(row)


@dataclass
class Matrix:
    world: World
    principals: dict[Role, Actor]
    case: dict[str, UUID]
    notifier: dict[str, UUID]
    routes: list[Route]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    for world in make_world(tmp_path_factory.mktemp("matrix")):
        app = world.ntd.app
        a, b = world.brand_a[0], world.brand_b[0]
        principals: dict[Role, Actor] = {}
        for role in ROLES:
            kind = (
                ActorKind.NOTIFIER_USER
                if role in NOTIFIER_ROLES
                else ActorKind.SELLER
                if role is Role.SELLER_USER
                else ActorKind.AGENT
            )
            who = Actor(kind=kind, id=f"r-{role.value}")
            seller = SellerKey(marketplace="shop.example", seller_ref="seller-1")
            grant = Grant(
                role=role,
                notifier_id=a if role in NOTIFIER_ROLES else None,
                seller=seller if role is Role.SELLER_USER else None,
            )
            app.grant_role(who, grant, ADMIN)
            world.tokens[str(who)] = app.issue_token(who, ADMIN).text
            principals[role] = who
        own = app.file_notice(
            parse_notice(notice_data(a, world.brand_a[1], [listing_data("M-A")])), BRAND_USER
        )
        other_listing = listing_data("M-B", seller_id="seller-2")
        other = app.file_notice(
            parse_notice(
                notice_data(b, world.brand_b[1], [other_listing], submitted_by=OTHER_USER.id)
            ),
            OTHER_USER,
        )
        yield Matrix(
            world,
            principals,
            {"own": own.cases[0].case_id, "other": other.cases[0].case_id},
            {"own": a, "other": b},
            api_routes(world.web),
        )


def test_every_api_route_names_a_row_of_the_permission_table() -> None:
    app = create_app(Settings(data_dir=Path("/nonexistent")))
    routes = api_routes(app)

    assert len(routes) >= 25
    for route in routes:
        row_of(route)


def cells() -> list[tuple[str, str, Role, str]]:
    app = create_app(Settings(data_dir=Path("/nonexistent")))
    return [
        (route.method, route.path, role, scope)
        for route in api_routes(app)
        for role in ROLES
        for scope in (
            ("own", "other") if "{" in route.path or route.path.endswith("/notices") else ("any",)
        )
    ]


def expected(route: Route, role: Role, scope: str) -> str:
    """What the table says the cell answers: `allowed`, `403` or `404` (`422` for a notice
    naming another party's notifier, which the filing reports as a field of the notice)."""
    row = PERMISSIONS[row_of(route)]
    granted = row.roles.get(role)
    if granted is None:
        return "403"
    if route.extra.get("x-reach") == "every party" and granted is not Scope.ANY:
        return "403"
    if scope == "any" or granted is Scope.ANY:
        return "allowed"
    reaches = scope == "own" and not (granted is Scope.OWN_SELLER and "{notifier_id}" in route.path)
    if reaches:
        return "allowed"
    return "422" if route.path.endswith("/notices") else "404"


def call(m: Matrix, method: str, path: str, who: Actor, scope: str) -> Any:
    world = m.world
    target = "own" if scope == "any" else scope
    url = path.replace("{case_id}", str(m.case[target]))
    url = url.replace("{notifier_id}", str(m.notifier[target]))
    headers = world.auth(who) | {"If-Match": "1"}
    if method == "GET":
        return world.client.get(url, headers=headers)
    if path.endswith("/notices"):
        brand = world.brand_a if target == "own" else world.brand_b
        body: Any = notice_data(
            brand[0], brand[1], [listing_data(f"N-{uuid4().hex[:8]}")], submitted_by=who.id
        )
    else:
        body = BODIES[path.rpartition("/")[2]]
    return world.client.post(url, json=body, headers=headers)


@pytest.mark.parametrize(
    ("method", "path", "role", "scope"),
    cells(),
    ids=lambda v: v.value if isinstance(v, Role) else str(v),
)
def test_the_matrix_cell_answers_as_the_permission_table_says(
    matrix: Matrix, method: str, path: str, role: Role, scope: str
) -> None:
    route = next(r for r in matrix.routes if r.path == path and r.method == method)
    want = expected(route, role, scope)

    answer = call(matrix, method, path, matrix.principals[role], scope)

    got = answer.status_code
    if want == "allowed":
        assert got not in (401, 403, 404) and got < 500, answer.text
    else:
        assert str(got) == want, answer.text


@pytest.mark.parametrize(
    "path",
    ["/api/v1/cases/{c}", "/api/v1/cases/{c}/conversation", "/api/v1/notifiers/{n}/dashboard"],
)
def test_brand_a_gets_404_for_brand_b_s_records(matrix: Matrix, path: str) -> None:
    url = path.replace("{c}", str(matrix.case["other"])).replace(
        "{n}", str(matrix.notifier["other"])
    )

    answer = matrix.world.client.get(url, headers=matrix.world.auth(BRAND_USER))

    assert answer.status_code == 404


def test_an_auditor_s_posts_are_403_but_verifying_the_trail(matrix: Matrix) -> None:
    posts = [r.path for r in matrix.routes if r.method == "POST"]
    answers = {path: call(matrix, "POST", path, AUDITOR, "own").status_code for path in posts}

    assert answers.pop("/api/v1/audit/verify") == 200
    assert set(answers.values()) == {403}, answers


def test_no_token_is_401_on_every_api_route(matrix: Matrix) -> None:
    for route in matrix.routes:
        url = route.path.replace("{case_id}", str(matrix.case["own"]))
        url = url.replace("{notifier_id}", str(matrix.notifier["own"]))
        answer = matrix.world.client.request(route.method, url)
        assert answer.status_code == 401, (route.method, url)


def test_a_principal_without_any_role_is_403_on_every_api_route(matrix: Matrix) -> None:
    stranger = Actor(kind=ActorKind.AGENT, id="nobody")
    for route in matrix.routes:
        answer = call(matrix, route.method, route.path, stranger, "own")
        assert answer.status_code == 403, (route.method, route.path, answer.text)
