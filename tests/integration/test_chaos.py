"""The short fault-injection run (scripts/chaos): SIGKILLs of the relay and of every consumer
group member, a partition leader's crash and an immediate PostgreSQL restart under load, on the
run's own PostgreSQL and three-broker cluster; nothing lost, nothing done twice, nothing stuck."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import REPO

PG_PORT = os.environ.get("NTD_TEST_CHAOS_PG_PORT", "15452")
KAFKA_PORT = os.environ.get("NTD_TEST_CHAOS_KAFKA_PORT", "19492")


def _tools_missing() -> str:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
        return "PostgreSQL's server binaries"
    if not shutil.which("java"):
        return "java"
    return ""


@pytest.fixture(scope="module")
def chaos() -> Iterator[dict[str, Any]]:
    """The short run's result; its services are started in a directory of their own, which the
    postgres OS user can reach (pytest's are private), and stopped at the end."""
    if missing := _tools_missing():
        if os.environ.get("NTD_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the chaos run needs {missing}")
        pytest.skip(f"the chaos run needs {missing}")
    state = Path(tempfile.mkdtemp(prefix="ntd-chaos-test-", dir="/tmp"))
    state.chmod(0o755)
    env = {
        **os.environ,
        "NTD_CHAOS_DIR": str(state),
        "NTD_CHAOS_PG_PORT": PG_PORT,
        "NTD_CHAOS_KAFKA_PORT": KAFKA_PORT,
    }
    try:
        done = subprocess.run(
            [str(REPO / "scripts" / "chaos"), "--seconds", "75", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert done.stdout.strip(), done.stderr[-3000:]
        yield json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_every_kind_of_fault_is_injected_and_the_pipeline_recovers_from_each(
    chaos: dict[str, Any],
) -> None:
    faults = chaos["faults"]
    assert set(faults) == {
        "kill relay",
        "kill projections",
        "kill policies",
        "kill broker (leader)",
        "restart postgres (immediate)",
    }
    assert chaos["process_kills"] == 10
    assert chaos["members_killed"] == 5, "the relay and each member of both groups"
    assert faults["kill broker (leader)"]["injected"] == 2
    assert faults["restart postgres (immediate)"]["injected"] == 1
    assert all(row["unrecovered"] == 0 for row in faults.values()), faults
    assert [p for p in chaos["problems"] if not p.startswith("missed effect:")] == []


def test_no_published_event_is_lost_or_out_of_per_case_order_on_kafka(
    chaos: dict[str, Any],
) -> None:
    assert chaos["events"] > 500
    assert chaos["lost"] == 0
    assert chaos["out_of_order"] == 0


def test_nothing_the_load_was_told_was_committed_is_missing(chaos: dict[str, Any]) -> None:
    assert chaos["commands"] > 200
    assert chaos["acked_missing"] == 0


def test_the_read_models_equal_a_clean_rebuild_and_the_audit_trail_is_intact(
    chaos: dict[str, Any],
) -> None:
    assert chaos["views_differ"] == []
    assert chaos["audit_intact"]


def test_no_policy_effect_happened_twice(chaos: dict[str, Any]) -> None:
    assert chaos["effects"] > 0
    assert chaos["duplicated_effects"] == 0


@pytest.mark.xfail(
    strict=False,
    reason="known defect (docs/faults.md, 'Known defect'): a leader's crash delays one case "
    "partition; a seller's later final takedown arriving first suspends it, and the delayed "
    "earlier takedowns then give no strike",
)
def test_no_policy_effect_was_missed(chaos: dict[str, Any]) -> None:
    assert chaos["missing_effects"] == 0


def test_no_consumer_group_is_left_behind_once_the_load_stops(chaos: dict[str, Any]) -> None:
    assert chaos["stuck"] == {"relay": 0, "projections": 0, "policies": 0}
