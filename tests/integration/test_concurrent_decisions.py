"""Two agents deciding one case at once, each from its own `ntd` process, on PostgreSQL:
exactly one decision is recorded and the other agent is told why in one line. The store's
optimistic concurrency makes the second save fail; the service reloads the case and asks the
lifecycle again, which refuses the second decision on the case as the first left it."""

from __future__ import annotations

import subprocess
import sys
import time
from uuid import UUID

import pytest

from domain.access import Grant
from domain.lifecycle import State
from domain.notice import parse_notice
from domain.values import Actor, ActorKind, Role
from ntd.bootstrap import Ntd
from ntd.config import Settings
from tests.integration.conftest import settings_env
from tests.unit.domain_fixtures import (
    ADMIN,
    AGENT,
    BRAND_USER,
    grant_cast,
    listing_data,
    notice_data,
    register_brand,
)

pytestmark = pytest.mark.integration

OTHER_AGENT = Actor(kind=ActorKind.AGENT, id="bea")
ROUNDS = 3
START_IN = 3.0
"""Seconds from now at which both processes give their command: time for each to import ntd
and be waiting, so the two commands meet in the store."""
LAUNCH = (
    "import sys, time\n"
    "from ntd.cli import main\n"
    "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
    "sys.argv = ['ntd', *sys.argv[2:]]\n"
    "main()\n"
)
"""Start `ntd`, then wait for the agreed moment before parsing the command."""


def _decide_at_once(
    settings: Settings, case_id: UUID, verbs: tuple[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    env = settings_env(settings) | {"NTD_FEED": "log"}
    start = time.time() + START_IN
    deciders = zip(verbs, (AGENT, OTHER_AGENT), strict=True)
    running = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                LAUNCH,
                str(start),
                "case",
                verb,
                str(case_id),
                "--facts",
                "Test buy 88121: counterfeit hardware, no serial tag",
                "--as",
                str(who),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for verb, who in deciders
    ]
    done = []
    for process in running:
        out, err = process.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


@pytest.mark.parametrize("verbs", [("take-down", "decline"), ("take-down", "take-down")])
def test_of_two_agents_deciding_one_case_from_two_processes_exactly_one_wins(
    pg_ntd: Ntd, pg_settings: Settings, verbs: tuple[str, str]
) -> None:
    app = pg_ntd.app
    grant_cast(app)
    app.grant_role(OTHER_AGENT, Grant(role=Role.AGENT), ADMIN)
    notifier_id, right_id = register_brand(app)
    for n in range(ROUNDS):
        data = notice_data(notifier_id, right_id, [listing_data(f"race-{n}")])
        case_id = app.file_notice(parse_notice(data), BRAND_USER).cases[0].case_id

        before = app.case(case_id, AGENT).version
        answers = _decide_at_once(pg_settings, case_id, verbs)

        codes = sorted(a.returncode for a in answers)
        assert codes == [0, 1], [a.stderr for a in answers]
        loser = next(a for a in answers if a.returncode == 1)
        said = loser.stderr.strip().splitlines()
        assert len(said) == 1 and said[0].startswith("ntd: error: "), loser.stderr
        assert "Traceback" not in loser.stderr
        assert "cannot" in said[0], said  # refused on the case as the winner left it
        winner = next(a for a in answers if a.returncode == 0)
        case = app.case(case_id, AGENT)
        assert f"(version {case.version})" in winner.stdout  # the loser's left no event
        assert case.version > before
        assert case.state in (State.TAKEN_DOWN, State.DECLINED)
