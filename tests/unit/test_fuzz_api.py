"""The HTTP API fuzzed from its own OpenAPI document (tests/fuzzing_api.py): every operation
under /api/, its parameters and body from their schemas, with hostile headers (If-Match,
Idempotency-Key, Authorization), query values (times at the limits, cursors, versions,
limits beyond 64 bits) and bodies (deep JSON, 5,000-digit numbers, bytes that are not UTF-8,
control characters). Never a server error, always a documented status, and a refusal
changes neither store. tests/unit/test_openapi.py checks the answers against their schemas;
this one is about hostile input. scripts/fuzz --full runs many more."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.fuzzing import CATEGORIES, Finding, seed
from tests.fuzzing_api import Api, Operation, Request, api, check_answer, operations, requests

pytestmark = pytest.mark.sqlite

EXAMPLES = 8
"""Requests per operation: some 30 operations in a few seconds."""

KNOWN = frozenset(CATEGORIES)
"""The categories of the suite's run: all of them."""

OPEN: set[tuple[str, str]] = set()
"""Findings being fixed (scripts/fuzz still reports them), left out of the suite's verdict."""


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root: Path = tmp_path_factory.mktemp("fuzz-api")
    pools = seed(root)
    with api(root, root / "seed", pools) as running:
        yield running


@pytest.fixture(scope="module")
def document_operations(portal: Api) -> list[Operation]:
    return operations(portal.spec())


def test_every_operation_of_the_document_is_fuzzed(
    portal: Api, document_operations: list[Operation]
) -> None:
    spec = portal.spec()
    listed = {
        (method, path)
        for path, methods in spec["paths"].items()
        if path.startswith("/api/")
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    }

    assert listed and listed == {(op.method, op.path) for op in document_operations}
    assert all(op.statuses for op in document_operations)


def test_no_request_ends_in_a_server_error_an_undocumented_status_or_a_changed_store(
    portal: Api, document_operations: list[Operation]
) -> None:
    findings: list[Finding] = []
    for op in document_operations:
        fuzz(portal, op, findings)

    assert [str(f) for f in findings if f.key not in OPEN] == []


def fuzz(portal: Api, op: Operation, findings: list[Finding]) -> None:
    """Send EXAMPLES generated requests to `op`, collecting what they break."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(op, portal.pools, KNOWN))
    def run(request: Request) -> None:
        findings.extend(check_answer(portal.send(request), op))

    run()
