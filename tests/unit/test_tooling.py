"""CI runs the static checks before the tests, and the declared dependencies admit only versions
ntd works with.

.ci/run and scripts/lint are run as they are, in a scratch copy of the repository whose
scripts/setup, scripts/test, service scripts, ruff and mypy are stubs that record their calls."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement

from ntd.cli import cli

ROOT = Path(__file__).resolve().parents[2]

STUB = """#!/usr/bin/env bash
echo "{name} $*" >> "$CALLS"
exit "${{{fail}:-0}}"
"""

RUFF_STUB = """#!/usr/bin/env bash
echo "ruff $*" >> "$CALLS"
if [[ "$1" == format ]]; then exit "${FAIL_RUFF_FORMAT:-0}"; fi
exit "${FAIL_RUFF_CHECK:-0}"
"""


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A repository with the real .ci/run and scripts/lint, and stubs for everything they call."""
    repo = tmp_path / "repo"
    for script in (".ci/run", "scripts/lint"):
        (repo / script).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / script, repo / script)
    for name, fail in [
        ("setup", "FAIL_SETUP"),
        ("test", "FAIL_TEST"),
        ("kafka", "FAIL_NEVER"),
        ("postgres", "FAIL_NEVER"),
    ]:
        _executable(repo / "scripts" / name, STUB.format(name=name, fail=fail))
    _executable(repo / ".venv/bin/ruff", RUFF_STUB)
    _executable(repo / ".venv/bin/mypy", STUB.format(name="mypy", fail="FAIL_MYPY"))
    return repo


def _run(repo: Path, command: str, **fail: str) -> tuple[int, list[str], str]:
    """Run a script of the scratch repository: exit code, the calls it made, its stderr."""
    calls = repo / "calls"
    calls.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIL_")}
    env |= {"CALLS": str(calls), **fail}
    done = subprocess.run(
        [str(repo / command)], cwd=repo, env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, calls.read_text().splitlines(), done.stderr


CHECKS = [
    "ruff check .",
    "ruff format --check .",
    "mypy domain projections consumers ntd",
]


def test_ci_runs_ruff_and_mypy_before_the_tests_and_stops_the_services(scratch: Path) -> None:
    code, calls, _ = _run(scratch, ".ci/run")

    assert code == 0
    assert calls == [
        "setup ",
        "setup ",  # scripts/lint makes sure of .venv itself (a no-op the second time)
        *CHECKS,
        "test -p no:cacheprovider",
        "kafka stop",
        "postgres stop",
    ]


def test_ci_fails_with_the_tests_exit_code_when_only_the_tests_fail(scratch: Path) -> None:
    code, calls, _ = _run(scratch, ".ci/run", FAIL_TEST="3")

    assert code == 3
    assert calls[-3:] == ["test -p no:cacheprovider", "kafka stop", "postgres stop"]


@pytest.mark.parametrize(
    ("failing", "named"),
    [
        ({"FAIL_RUFF_CHECK": "1"}, "ruff lint"),
        ({"FAIL_RUFF_FORMAT": "1"}, "ruff format"),
        ({"FAIL_MYPY": "1"}, "mypy"),
        ({"FAIL_RUFF_CHECK": "1", "FAIL_MYPY": "2"}, "ruff lint, mypy"),
    ],
)
def test_a_failing_check_fails_ci_before_the_tests_and_says_which(
    scratch: Path, failing: dict[str, str], named: str
) -> None:
    code, calls, stderr = _run(scratch, ".ci/run", **failing)

    assert code == 1
    assert [c for c in calls if not c.startswith("setup")] == [
        *CHECKS,  # every check runs, so one run reports every problem
        "kafka stop",
        "postgres stop",
    ]
    assert f"lint: FAILED: {named} " in stderr
    assert "ci: FAILED: static checks" in stderr


def test_ci_stops_when_setup_fails(scratch: Path) -> None:
    code, calls, stderr = _run(scratch, ".ci/run", FAIL_SETUP="1")

    assert code == 1
    assert calls == ["setup ", "kafka stop", "postgres stop"]
    assert "ci: FAILED: scripts/setup" in stderr


def test_scripts_lint_says_what_it_does(scratch: Path) -> None:
    done = subprocess.run(
        [str(ROOT / "scripts/lint"), "--help"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    assert "ruff check" in done.stdout and "mypy" in done.stdout
    code, calls, stderr = _run(scratch, "scripts/lint")
    assert code == 0 and calls == ["setup ", *CHECKS]
    assert "lint: ruff lint, ruff format and mypy passed" in stderr


def test_the_click_requirement_excludes_the_versions_whose_errors_break_the_cli() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (click_requirement,) = [
        Requirement(r) for r in project["dependencies"] if Requirement(r).name == "click"
    ]

    assert not click_requirement.specifier.contains("8.1.8")  # every error an AttributeError
    assert click_requirement.specifier.contains(importlib.metadata.version("click"))
    assert issubclass(click.exceptions.NoArgsIsHelpError, click.UsageError)


def test_the_cli_with_the_installed_click_shows_help_for_no_arguments_and_names_errors() -> None:
    bare = CliRunner().invoke(cli, [])
    group = CliRunner().invoke(cli, ["case"])
    wrong = CliRunner().invoke(cli, ["nosuch"])

    assert bare.exit_code == 0 and bare.stdout.startswith("Usage: ")
    assert group.exit_code == 0 and "take-down" in group.stdout
    assert wrong.exit_code == 2
    assert wrong.stderr.splitlines()[0] == "ntd: error: No such command 'nosuch'."
