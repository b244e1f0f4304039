"""scripts/fuzz: generated hostile inputs against every CLI command and every API operation,
from the command tree and the OpenAPI document (tests/fuzzing.py, tests/fuzzing_api.py).

Prints inputs by category, then the findings by kind (tracebacks, last-resort lines, stray
exit codes and statuses, stores changed by a refusal, hangs), one line per distinct code path
with the commands that took it and a shortened input; exit 1 if there is any finding.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as seeded  # noqa: E402

from tests.fuzzing import (  # noqa: E402
    CATEGORIES,
    FINDING_KINDS,
    Command,
    Invocation,
    Outcome,
    Sandbox,
    Tally,
    check,
    invocations,
    minimise,
    runs_until_stopped,
    seed,
    walk,
)
from tests.fuzzing_api import Operation, Request, api, check_answer, operations, requests  # noqa: E402

FULL_INPUTS = 10_000
"""The full run's least number of inputs (issue 16), about 4 in 5 to the CLI."""

STOPPED_EXAMPLES = 10
"""Inputs to each command that runs until stopped: each may take its whole timeout."""

API_KINDS = {
    "server-error": "a 5xx answer",
    "status": "a status neither documented for the operation nor one any request may meet",
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="ntd-fuzz-"))
    try:
        return _run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scripts/fuzz",
        description="Hostile inputs, generated from the CLI's command tree and the API's "
        "OpenAPI document, against a seeded embedded store; exit 1 on any finding.",
    )
    parser.add_argument("--full", action="store_true", help=f"≥ {FULL_INPUTS:,} inputs")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument(
        "--examples", type=int, help="inputs per CLI command (default 12; --full: enough)"
    )
    parser.add_argument(
        "--api-examples", type=int, help="requests per API operation (default 10; --full: enough)"
    )
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per CLI run")
    parser.add_argument(
        "--only", default="", help="only the commands and operations whose name holds this"
    )
    parser.add_argument(
        "--subprocess",
        action="store_true",
        help="start `python -m ntd` per input instead of forking the warm interpreter",
    )
    parser.add_argument("--no-api", action="store_true", help="the CLI only")
    parser.add_argument("--no-cli", action="store_true", help="the API only")
    parser.add_argument("--report", type=Path, help="also write the findings, as markdown, here")
    return parser


def _run(args: argparse.Namespace, root: Path) -> int:
    started = time.monotonic()
    pools = seed(root)
    sandbox = Sandbox(root, root / "seed", pools, "subprocess" if args.subprocess else "fork")
    commands = [c for c in walk(_cli()) if args.only in c.name]
    cli = Tally()
    api_tally = Tally()
    with api(root, root / "seed", pools) as portal:
        ops = [op for op in operations(portal.spec()) if args.only in op.name]
        shares = _shares(args, commands, ops)
        fuzzing = time.monotonic()
        if not args.no_cli:
            for command in commands:
                _fuzz_command(sandbox, command, shares[0], args, cli)
        cli_seconds = time.monotonic() - fuzzing
        if not args.no_api:
            for op in ops:
                _fuzz_operation(portal, op, shares[1], args.seed, api_tally)
    minimised = _minimise(sandbox, cli, args.timeout)
    _print(cli, api_tally, minimised, time.monotonic() - started, cli_seconds, args)
    if args.report:
        args.report.write_text(_markdown(cli, api_tally, minimised))
    return 1 if cli.findings or api_tally.findings else 0


def _cli() -> Any:
    from ntd.cli import cli

    return cli


def _shares(
    args: argparse.Namespace, commands: list[Command], ops: list[Operation]
) -> tuple[int, int]:
    """Inputs per command and per operation: given, or enough for the full run's total."""
    if not args.full:
        return args.examples or 12, args.api_examples or 10
    one_shot = max(1, sum(not runs_until_stopped(c) for c in commands))
    cli_each = args.examples or math.ceil(FULL_INPUTS * 0.78 / one_shot)
    api_each = args.api_examples or math.ceil(FULL_INPUTS * 0.25 / max(1, len(ops)))
    return cli_each, api_each


def _fuzz_command(
    sandbox: Sandbox, command: Command, examples: int, args: argparse.Namespace, tally: Tally
) -> None:
    stopped = runs_until_stopped(command)
    timeout = 1.5 if stopped else args.timeout
    before = tally.inputs
    began = time.monotonic()

    @seeded(args.seed)
    @settings(
        max_examples=min(examples, STOPPED_EXAMPLES) if stopped else examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(invocations(command, sandbox.pools))
    def run(inv: Invocation) -> None:
        outcome = sandbox.run(inv, timeout)
        tally.add(outcome, check(outcome, stopped))

    run()
    found = sum(1 for f, commands, _ in tally.findings.values() if command.name in commands)
    print(
        f"fuzz: ntd {command.name:<32} {tally.inputs - before:5} inputs "
        f"{time.monotonic() - began:6.1f} s  {found} finding(s)",
        file=sys.stderr,
        flush=True,
    )


def _fuzz_operation(portal: Any, op: Operation, examples: int, seed_: int, tally: Tally) -> None:
    before = tally.inputs
    began = time.monotonic()

    @seeded(seed_)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(op, portal.pools))
    def run(request: Request) -> None:
        answer = portal.send(request)
        outcome = _as_outcome(answer)
        tally.add(outcome, check_answer(answer, op))

    run()
    print(
        f"fuzz: {op.name:<55} {tally.inputs - before:5} requests {time.monotonic() - began:6.1f} s",
        file=sys.stderr,
        flush=True,
    )


def _as_outcome(answer: Any) -> Outcome:
    """An API answer in the shape the tally counts (its status as the exit code)."""
    request: Request = answer.request
    invocation = Invocation(request.operation, (), (), b"", "seeded", request.categories)
    outcome = Outcome(invocation, answer.status, b"", b"", answer.seconds, {}, {})
    if answer.error == "unsent":  # the client refused to send it (a URL too long)
        outcome.exit_code = -1
    return outcome


def _minimise(sandbox: Sandbox, tally: Tally, timeout: float) -> dict[tuple[str, str], str]:
    """A smaller input for each CLI finding, still breaking the same property there."""
    from tests.fuzzing import RUNS_UNTIL_STOPPED

    smaller: dict[tuple[str, str], str] = {}
    for key, (first, _, _) in tally.findings.items():
        stopped = tuple(first.command.split()) in RUNS_UNTIL_STOPPED
        still = _still(key, stopped)
        smaller[key] = minimise(sandbox, first.invocation, still, timeout).shell(width=80)
    return smaller


def _still(key: tuple[str, str], stopped: bool) -> Any:
    return lambda outcome: any(f.key == key for f in check(outcome, stopped))


def _print(
    cli: Tally,
    api_tally: Tally,
    minimised: dict[tuple[str, str], str],
    seconds: float,
    cli_seconds: float,
    args: argparse.Namespace,
) -> None:
    total = cli.inputs + api_tally.inputs
    mode = "subprocess" if args.subprocess else "fork"
    print(f"\nntd fuzz ({'full' if args.full else 'short'} run, seed {args.seed}, CLI by {mode})")
    print(f"{'category':<14} {'CLI':>7} {'API':>7}")
    for category in [*CATEGORIES]:
        row = (cli.by_category.get(category, 0), api_tally.by_category.get(category, 0))
        print(f"{category:<14} {row[0]:>7,} {row[1]:>7,}")
    print(f"{'inputs':<14} {cli.inputs:>7,} {api_tally.inputs:>7,}   total {total:,}")
    print(f"exit codes (CLI): {_counts(cli.by_exit)}")
    print(f"statuses (API):   {_counts(api_tally.by_exit)}  (-1: not sent, the client refused)")
    rate = cli.inputs / cli_seconds if cli_seconds else 0.0
    print(f"time: {seconds:.0f} s in all; CLI {rate:.1f} inputs/s (the seeded store built once)")
    print(f"\n{'finding':<20} {'CLI':>7} {'API':>7}")
    for kind in {**FINDING_KINDS, **API_KINDS}:
        print(f"{kind:<20} {cli.count(kind):>7} {api_tally.count(kind):>7}")
    for name, tally in (("CLI", cli), ("API", api_tally)):
        for key, (first, commands, count) in sorted(tally.findings.items()):
            shown = minimised.get(key) or first.invocation.shell()
            where = ", ".join(sorted(commands)[:6]) + (" …" if len(commands) > 6 else "")
            print(f"\n[{name}] {first.kind} at {first.where}  ×{count}  in: {where}")
            print(f"    {shown[:400]}")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) or "-"


def _markdown(cli: Tally, api_tally: Tally, minimised: dict[tuple[str, str], str]) -> str:
    lines = ["# scripts/fuzz findings", ""]
    for name, tally in (("CLI", cli), ("API", api_tally)):
        for key, (first, commands, count) in sorted(tally.findings.items()):
            shown = minimised.get(key) or first.invocation.shell()
            lines += [
                f"## {name} {first.kind} — {first.where} (×{count})",
                f"commands: {', '.join(sorted(commands))}",
                "",
                f"    {shown[:600]}",
                "",
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
