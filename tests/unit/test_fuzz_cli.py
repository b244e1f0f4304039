"""The command line fuzzed from its own command tree: every command, with inputs built from
its options' and arguments' click types, the variables ntd reads, stdin and broken stores
(tests/fuzzing.py). No answer may be a traceback or the last-resort line, every exit code is
0, 1 or 2, and a refused command leaves both stores as they were. A short, reproducible run;
scripts/fuzz --full runs ≥ 10,000 inputs over the CLI and the API."""

from __future__ import annotations

import click
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from ntd.cli import cli
from ntd.config import VARIABLES
from tests.fuzzing import (
    CATEGORIES,
    Command,
    Invocation,
    Profile,
    Sandbox,
    check,
    environment_variables,
    invocations,
    runs_until_stopped,
    seed,
    walk,
)

pytestmark = pytest.mark.sqlite

EXAMPLES = 6
"""Inputs per command: about 60 commands × 6 inputs in well under a minute."""

STOPPED_EXAMPLES = 2
"""Inputs per command that runs until stopped (each may take its whole timeout)."""

TIMEOUT = 20.0
"""Seconds a one-shot command has (a loaded CI machine); a hang is a finding."""

STOPPED_TIMEOUT = 1.5
"""Seconds before a command that runs until stopped (serve, relay, consume) is stopped."""

KNOWN = Profile(avoid=frozenset())
"""The suite's run: every category (an input whose finding is being fixed may be left out
here, with the finding's name, until it is)."""


COMMANDS = walk(cli)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    root = tmp_path_factory.mktemp("fuzz")
    return Sandbox(root, root / "seed", seed(root))


def _leaves(group: click.Group) -> int:
    return sum(
        _leaves(sub) if isinstance(sub, click.Group) else 1
        for sub in group.commands.values()
        if not sub.hidden
    )


def test_the_walk_finds_every_command_of_the_tree() -> None:
    names = [c.name for c in COMMANDS]

    assert len(names) == _leaves(cli) and len(set(names)) == len(names)
    assert all(c.leaf.callback is not None for c in COMMANDS)


def test_every_variable_ntd_reads_is_fuzzed() -> None:
    fuzzed = environment_variables()

    assert set(VARIABLES) <= set(fuzzed)
    assert "NTD_ACTOR" in fuzzed  # an option's envvar, not in the configuration table


def test_a_run_over_every_command_draws_every_category(sandbox: Sandbox) -> None:
    """The generators can make each kind of hostile input the issue names (on some command)."""
    seen: set[str] = set()

    @settings(max_examples=400, derandomize=True, database=None, phases=[Phase.generate])
    @given(st.sampled_from(COMMANDS).flatmap(lambda c: invocations(c, sandbox.pools)))
    def draw(inv: Invocation) -> None:
        seen.update(inv.categories)

    draw()
    assert set(CATEGORIES) <= seen


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_no_input_ends_in_a_traceback_a_stray_exit_code_or_a_changed_store(
    sandbox: Sandbox, command: Command
) -> None:
    stopped = runs_until_stopped(command)

    @settings(
        max_examples=STOPPED_EXAMPLES if stopped else EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(invocations(command, sandbox.pools, KNOWN))
    def run(inv: Invocation) -> None:
        outcome = sandbox.run(inv, STOPPED_TIMEOUT if stopped else TIMEOUT)
        assert check(outcome, stopped) == [], outcome.stderr.decode(errors="replace")[-2000:]

    run()
