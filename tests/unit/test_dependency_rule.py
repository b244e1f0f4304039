"""The dependency rule, read from every import: a pure domain, projections off Kafka."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DOMAIN_MAY_IMPORT = {"eventsourcing", "pydantic", "pydantic_core", "domain"}
DATABASE_DRIVERS = {"psycopg2", "psycopg", "psycopg_pool", "sqlite3", "asyncpg", "sqlalchemy"}
NEVER_IN_DOMAIN = {"kafka", "structlog", "logging", *DATABASE_DRIVERS}
NEVER_IN_DOMAIN_MODULES = {"eventsourcing.sqlite", "eventsourcing.postgres"}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute module a file imports (at any depth: top level, functions, TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def modules_in(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_scanner_sees_imports_wherever_they_are_written(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os, kafka.producer\n"
        "from typing import TYPE_CHECKING\n"
        "from . import sibling\n"
        "if TYPE_CHECKING:\n"
        "    import psycopg\n"
        "def late():\n"
        "    from structlog import get_logger\n"
        "    importlib.import_module('sqlite3')\n"
    )

    found = {name for _, name in imports(sample)}

    assert found == {"os", "kafka.producer", "typing", "psycopg", "structlog", "sqlite3"}


def test_there_is_a_domain_to_check() -> None:
    assert {p.name for p in modules_in("domain")} >= {"case.py", "application.py", "values.py"}


@pytest.mark.parametrize("path", modules_in("domain"), ids=_relative)
def test_the_domain_imports_no_broker_no_database_driver_and_no_logging(path: Path) -> None:
    offending = [
        f"{_relative(path)}:{line} imports {name}"
        for line, name in imports(path)
        if name.split(".")[0] in NEVER_IN_DOMAIN
        or any(name == m or name.startswith(f"{m}.") for m in NEVER_IN_DOMAIN_MODULES)
    ]

    assert offending == []


@pytest.mark.parametrize("path", modules_in("domain"), ids=_relative)
def test_the_domain_imports_only_the_standard_library_eventsourcing_and_pydantic(
    path: Path,
) -> None:
    allowed = (set(sys.stdlib_module_names) - NEVER_IN_DOMAIN) | DOMAIN_MAY_IMPORT
    offending = [
        f"{_relative(path)}:{line} imports {name}"
        for line, name in imports(path)
        if name.split(".")[0] not in allowed
    ]

    assert offending == []


def test_projections_never_import_kafka() -> None:
    offending = [
        f"{_relative(path)}:{line} imports {name}"
        for path in modules_in("projections")
        for line, name in imports(path)
        if name.split(".")[0] == "kafka"
    ]

    assert offending == []
