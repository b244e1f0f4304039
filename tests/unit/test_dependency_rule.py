"""The dependency rule, read from every import: a pure domain, projections off Kafka, layers
that import only downwards and no import circle between files."""

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
PACKAGES = ("domain", "projections", "consumers", "ntd")

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("domain", ("domain",)),
    ("projections", ("projections",)),
    ("consumers", ("consumers",)),
    ("application wiring", ("ntd",)),
    ("entry points", ("ntd.cli", "ntd.demo", "ntd.__main__", "ntd.web")),
)
"""Lowest first; a module belongs to the layer of the longest prefix naming it, and may import
only from its own layer and those below."""


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


# -- layers and circles ----------------------------------------------------------------------


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Each module of the packages → the modules of the packages it imports (relative imports,
    `from package import module` and TYPE_CHECKING imports included)."""
    paths = {module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = module.split(".")[: -1 if path.name != "__init__.py" else None]
                    package = package[: len(package) - node.level + 1]
                    base = ".".join([*package, *([node.module] if node.module else [])])
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            found.update(m for n in names if (m := known(n)) is not None and m != module)
        graph[module] = found
    return graph


def layer_of(module: str) -> int:
    matches = [
        (len(prefix), index)
        for index, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches)[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if layer_of(target) > layer_of(module)
    ]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_every_layer_imports_only_its_own_and_the_layers_below() -> None:
    assert upward_imports(import_graph(ROOT)) == []


def test_no_two_files_import_each_other_even_through_others() -> None:
    assert circles(import_graph(ROOT)) == []


def test_the_checks_catch_a_circle_and_an_upward_import(tmp_path: Path) -> None:
    for package, files in {
        "domain": {"a.py": "from domain import b\n", "b.py": "import domain.c\n"},
        "projections": {"p.py": "from .q import x\n", "q.py": "from ntd.cli import main\n"},
        "ntd": {"cli.py": "if TYPE_CHECKING:\n    from domain.a import A\n"},
    }.items():
        (tmp_path / package).mkdir()
        for name, text in {"__init__.py": "", **files}.items():
            (tmp_path / package / name).write_text(text)
    (tmp_path / "domain" / "c.py").write_text("from domain.a import thing\n")

    graph = import_graph(tmp_path, ("domain", "projections", "ntd"))

    assert circles(graph) == [["domain.a", "domain.b", "domain.c"]]
    assert upward_imports(graph) == [
        "projections.q (projections) imports ntd.cli (entry points)",
    ]
    assert graph["projections.p"] == {"projections.q"}
    assert graph["ntd.cli"] == {"domain.a"}
