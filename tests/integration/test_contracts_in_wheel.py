"""The wheel ships the published contract, readable with importlib.resources wherever ntd is
installed: the AsyncAPI document and every event's JSON Schema, as scripts/contracts made them.

The wheel is built from a copy of the working tree's tracked and new files (what a clone of the
commit would hold), so the test sees uncommitted changes too. No services needed; ~2 s."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from consumers.contracts import DEFAULT_SCHEMA_BASE
from domain.catalog import ce_type, event_classes
from ntd.contracts import render

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

READER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from consumers import contracts
print(json.dumps({
    "module": contracts.__file__,
    "types": contracts.schema_types(),
    "asyncapi": contracts.asyncapi()["asyncapi"],
    "ids": {t: contracts.schema(t)["$id"] for t in contracts.schema_types()},
}))
"""


def _clone_of_working_tree(into: Path) -> Path:
    """The files git would hand a clone (tracked, and new ones not ignored), as they are now."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout of ntd")
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
    ).stdout.decode()
    source = into / "ntd-src"
    for name in filter(None, listed.split("\0")):
        path = REPO / name
        if path.is_file():  # a tracked file deleted in the working tree is not there
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, source / name)
    return source


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ntd's wheel, built offline with the venv's own setuptools and wheel (the dev extras)."""
    work = tmp_path_factory.mktemp("wheel")
    source = _clone_of_working_tree(work)
    out = work / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--disable-pip-version-check", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("ntd-*.whl")
    return found


def _read_in_isolation(path: Path) -> dict[str, object]:
    """What a Python with nothing but the standard library and `path` on sys.path reads of the
    contract (-I -S: no site-packages, so not the editable install of this checkout)."""
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", READER, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=path.parent,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_wheel_holds_the_asyncapi_document_and_every_schema(wheel: Path) -> None:
    expected = {f"consumers/contracts/{name}": text for name, text in render().items()}

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert "consumers/contracts/__init__.py" in names
        assert set(expected) <= names, sorted(set(expected) - names)
        for name, text in expected.items():
            assert archive.read(name).decode() == text, f"{name} differs from the models"
        assert not any(n.startswith("contracts/") for n in names)


def test_the_contract_loads_with_importlib_resources_from_the_installed_files(
    wheel: Path, tmp_path: Path
) -> None:
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)

    for where in (installed, wheel):  # unpacked as pip installs it, and zipped (zipimport)
        read = _read_in_isolation(where)

        assert str(read["module"]).startswith(str(where))
        types = sorted(ce_type(cls) for cls in event_classes())
        assert read["types"] == types
        assert read["asyncapi"] == "3.0.0"
        assert read["ids"] == {t: f"{DEFAULT_SCHEMA_BASE}{t}.json" for t in types}
