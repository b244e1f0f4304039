"""docs/evidence.md's recipe re-checks an audit export with the standard library alone: every
row of a real export is ok, and an edited row is named BROKEN."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.domain_fixtures import AUDITOR
from tests.unit.test_web_api import World, decide, make_world

pytestmark = pytest.mark.sqlite

DOC = Path(__file__).resolve().parents[2] / "docs" / "evidence.md"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from make_world(tmp_path)


def _recipe(tmp_path: Path) -> Path:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert code, "docs/evidence.md has no recipe"
    script = tmp_path / "recheck.py"
    script.write_text(code.group(1))
    return script


def _export(world: World, tmp_path: Path) -> Path:
    for n in range(3):
        case_id = world.file()
        world.clock.advance(hours=1)  # whole seconds: the times whose zeros an export once lost
        decide(world, case_id, "take-down" if n % 2 else "decline", **{"If-Match": "1"})
    answer = world.client.get(
        "/api/v1/audit", params={"format": "jsonl"}, headers=world.auth(AUDITOR)
    )
    assert answer.status_code == 200, answer.text
    path = tmp_path / "trail.jsonl"
    path.write_text(answer.text, encoding="utf-8")
    return path


def test_the_recipe_finds_every_row_of_an_export_intact(world: World, tmp_path: Path) -> None:
    trail = _export(world, tmp_path)

    run = subprocess.run(
        [sys.executable, str(_recipe(tmp_path)), str(trail)], capture_output=True, text=True
    )

    rows = trail.read_text().splitlines()
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(run.stdout.splitlines()) == len(rows) > 10
    assert all(line.endswith(" ok") for line in run.stdout.splitlines())
    assert any(json.loads(r)["occurred_at"].endswith(".000000+00:00") for r in rows)


def test_the_recipe_names_an_edited_row(world: World, tmp_path: Path) -> None:
    trail = _export(world, tmp_path)
    rows = [json.loads(line) for line in trail.read_text().splitlines()]
    edited = next(r for r in rows if r["event_type"] == "taken_down")
    edited["actor"] = "agent:someone_else"
    trail.write_text("".join(json.dumps(r) + "\n" for r in rows))

    run = subprocess.run(
        [sys.executable, str(_recipe(tmp_path)), str(trail)], capture_output=True, text=True
    )

    assert run.returncode == 1
    assert f"{edited['seq']} taken_down BROKEN" in run.stdout.splitlines()
