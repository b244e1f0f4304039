"""The test tiers. `--fast` (scripts/test --fast) runs the tests marked `fast` with the domain
tests' event store in memory (eventsourcing.popo): no service, no store file, under a minute.
Without it every test runs, the domain tests on a SQLite file; tests/integration counts as
`integration`, so `-m "not integration"` is everything that needs no PostgreSQL or Kafka."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.domain_fixtures import Backend

FAST = "fast and not sqlite and not integration"
"""The fast tier: in memory, minus what a fast module runs on SQLite or PostgreSQL on purpose."""

INTEGRATION = Path(__file__).parent / "integration"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help=f"run only the fast tier ({FAST}), the domain tests' event store in memory",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("fast"):
        given = config.option.markexpr
        config.option.markexpr = f"({FAST}) and ({given})" if given else FAST
        Backend.kind = "memory"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast tier does not even import the tests that need PostgreSQL and Kafka."""
    if config.getoption("fast") and collection_path.is_relative_to(INTEGRATION):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(INTEGRATION):
            item.add_marker(pytest.mark.integration)
