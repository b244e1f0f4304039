"""The API's contract: /openapi.json is a valid OpenAPI 3.1 document built from the project's
models, /docs renders it without a CDN or a script, and a property-based run over every
operation (schemathesis) finds no server error and no answer outside the document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.openapi import from_asgi
from schemathesis.specs.openapi.checks import positive_data_acceptance

from domain.values import Actor
from tests.unit.domain_fixtures import AGENT, AUDITOR, BRAND_USER, SELLER
from tests.unit.test_web_api import World, make_world

pytestmark = pytest.mark.sqlite

EXAMPLES = 12
"""Examples per operation and role: the whole run stays well under 30 s."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(tmp_path_factory.mktemp("openapi"))


@pytest.fixture(scope="module")
def known(world: World) -> dict[str, str]:
    """Ids that exist, to put in place of the random ones half of the time (a random id only
    ever meets 404): a case of brand A and brand A itself."""
    return {"case_id": str(world.file()), "notifier_id": str(world.brand_a[0])}


@pytest.fixture(scope="module")
def spec(world: World) -> dict[str, Any]:
    answer = world.client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    validate(spec)

    assert spec["openapi"].startswith("3.1")


def test_the_document_describes_the_project_s_models(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]

    for name in ("NoticeSubmission", "Dashboard", "CaseLine", "AuditRow", "ActionItem", "Problem"):
        assert name in schemas, name
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_every_api_error_is_documented_as_a_problem(spec: dict[str, Any]) -> None:
    for path, methods in spec["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in methods.items():
            for status in ("401", "429"):
                content = operation["responses"][status]["content"]
                assert "application/problem+json" in content, (method, path, status)


def test_the_docs_need_no_cdn_nor_inline_script_and_work_without_javascript(
    world: World, spec: dict[str, Any]
) -> None:
    """/docs is Swagger UI from ntd's own files, started by a script file (the browser test
    runs it under the CSP); /docs/reference is the same reference without any script."""
    interactive = world.client.get("/docs")
    reference = world.client.get("/docs/reference")

    assert interactive.status_code == 200 and "cdn" not in interactive.text.lower()
    sources = re.findall(r"<script([^>]*)>(.*?)</script>", interactive.text, flags=re.S)
    assert sources and all('src="/static/' in attrs and not body for attrs, body in sources)
    for asset in ("/static/swagger/swagger-ui-bundle.js", "/static/docs.js"):
        assert world.client.get(asset).status_code == 200, asset
    assert 'href="/docs/reference"' in interactive.text  # the way in without JavaScript
    assert reference.status_code == 200
    assert "<script" not in reference.text and "cdn" not in reference.text.lower()
    for path in spec["paths"]:
        assert path in reference.text


@pytest.mark.parametrize("who", [AGENT, BRAND_USER, SELLER, AUDITOR], ids=str)
def test_no_operation_answers_a_server_error_or_outside_its_schema(
    world: World, known: dict[str, str], who: Actor
) -> None:
    schema = from_asgi("/openapi.json", world.web)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(), real=st.booleans())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any, real: bool) -> None:
            if real and case.path_parameters:
                case.path_parameters.update(
                    {k: v for k, v in known.items() if k in case.path_parameters}
                )
            # a schema-valid notice may still be refused (its statements must be affirmed,
            # its notifier must exist): 422 there is the domain speaking, not a broken schema
            case.call_and_validate(
                headers=world.auth(who), excluded_checks=[positive_data_acceptance]
            )

        try:
            run()
        except Exception as error:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {str(error)[:1500]}")

    assert failures == []
