"""The portal's API on PostgreSQL + Kafka, served by `ntd serve --workers 2` with the relay and
the consumers running as their own processes: two agents deciding one case at once, brand
isolation, and reads that wait for the projections (read-your-writes)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from ntd.config import Settings
from tests.integration.portal import (
    Served,
    World,
    make_world,
    notice_json,
    on_kafka,
    wait_for,
)

DECIDERS = ("agent", "second_agent")


@pytest.fixture
def portal(kafka_settings: Settings, tmp_path: Path) -> Iterator[tuple[Served, World]]:
    world = make_world(kafka_settings)
    with on_kafka(kafka_settings, tmp_path / "logs", workers=2) as served:
        yield served, world


def file_cases(served: Served, world: World, *listing_ids: str) -> list[str]:
    """File one notice as the brand; the ids of its cases."""
    with served.client(world.tokens["brand"]) as brand:
        answer = brand.post(
            "/api/v1/notices", json=notice_json(world.notifier_id, world.right_id, listing_ids)
        )
    assert answer.status_code == 201, answer.text
    return [c["case_id"] for c in answer.json()["cases"]]


def listed(client: httpx.Client, notifier_id: UUID) -> dict[str, dict[str, Any]]:
    """The case lines of the notifier's list, by case id."""
    answer = client.get("/api/v1/cases", params={"notifier_id": str(notifier_id), "limit": 500})
    assert answer.status_code == 200, answer.text
    return {line["case_id"]: line for line in answer.json()["lines"]}


def at_once(
    clients: list[httpx.Client], case_id: str, paths: tuple[str, str], etag: str
) -> list[httpx.Response]:
    """Each client POSTs its decision on the case, both released together by a barrier."""
    barrier = threading.Barrier(len(clients))

    def decide(i: int) -> httpx.Response:
        barrier.wait()
        return clients[i].post(
            f"/api/v1/cases/{case_id}/{paths[i]}",
            json={"facts": "The test buy showed a counterfeit of the registered mark."},
            headers={"If-Match": etag},
        )

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(decide, range(len(clients))))


def test_of_two_agents_deciding_one_case_at_once_exactly_one_wins_and_the_other_gets_412(
    portal: tuple[Served, World],
) -> None:
    served, world = portal
    rounds = 6
    case_ids = file_cases(served, world, *(f"race-{n}" for n in range(rounds)))
    clients = [served.client(world.tokens[who]) for who in DECIDERS]
    try:
        for n, case_id in enumerate(case_ids):
            seen = [c.get(f"/api/v1/cases/{case_id}") for c in clients]
            assert [s.status_code for s in seen] == [200, 200], [s.text for s in seen]
            etag = seen[0].headers["etag"]
            assert seen[1].headers["etag"] == etag
            # One takes the listing down, the other declines, both on the version they read.
            paths = ("take-down", "decline") if n % 2 == 0 else ("decline", "take-down")
            answers = at_once(clients, case_id, paths, etag)

            statuses = sorted(a.status_code for a in answers)
            assert statuses == [200, 412], [a.text for a in answers]
            winner = next(i for i, a in enumerate(answers) if a.status_code == 200)
            loser = answers[1 - winner]
            assert loser.headers["content-type"].startswith("application/problem+json")
            assert loser.json()["status"] == 412
            # The loser changed nothing: the case is as the winner left it.
            after = clients[0].get(f"/api/v1/cases/{case_id}")
            assert after.json()["version"] == answers[winner].json()["version"]
            assert after.json()["state"] == answers[winner].json()["state"]
            expected = "taken_down" if paths[winner] == "take-down" else "declined"
            assert after.json()["state"] == expected
    finally:
        for client in clients:
            client.close()


def test_a_brand_gets_404_for_another_brands_case_dashboard_and_conversation(
    portal: tuple[Served, World],
) -> None:
    served, world = portal
    (case_id,) = file_cases(served, world, "isolated-1")
    with served.client(world.tokens["other_brand"]) as other:
        assert other.get(f"/api/v1/cases/{case_id}").status_code == 404
        assert other.get(f"/api/v1/cases/{case_id}/conversation").status_code == 404
        dashboard = other.get(f"/api/v1/notifiers/{world.notifier_id}/dashboard")
        assert dashboard.status_code == 404, dashboard.text
        answer = other.post(f"/api/v1/cases/{case_id}/messages", json={"text": "Is this one ours?"})
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        own = other.get("/api/v1/cases", params={"limit": 500})
        assert own.status_code == 200
        assert case_id not in {line["case_id"] for line in own.json()["lines"]}
        assert other.get(f"/api/v1/notifiers/{world.other_notifier_id}/dashboard").is_success
    with served.client(world.tokens["brand"]) as brand:
        assert brand.get(f"/api/v1/cases/{case_id}").status_code == 200
        assert brand.get(f"/api/v1/cases/{case_id}/conversation").status_code == 200


def test_a_read_with_min_version_waits_for_the_projections_that_kafka_feeds(
    portal: tuple[Served, World],
) -> None:
    served, world = portal
    brand = served.client(world.tokens["brand"])
    agent = served.client(world.tokens["agent"])
    try:
        # First let the consumers join their group: until then nothing is projected at all.
        (warm,) = file_cases(served, world, "warm-up")
        wait_for(lambda: warm in listed(brand, world.notifier_id), "the first projected case")

        (case_id,) = file_cases(served, world, "ryw-1")
        seen = brand.get(f"/api/v1/cases/{case_id}", params={"min_version": 1})
        assert seen.status_code == 200, seen.text
        assert listed(brand, world.notifier_id)[case_id]["state"] == "filed"

        decided = agent.post(
            f"/api/v1/cases/{case_id}/take-down",
            json={"facts": "The test buy showed a counterfeit of the registered mark."},
            headers={"If-Match": seen.headers["etag"]},
        )
        assert decided.status_code == 200, decided.text
        version = decided.json()["version"]
        seen = brand.get(f"/api/v1/cases/{case_id}", params={"min_version": version})
        assert seen.status_code == 200, seen.text
        line = listed(brand, world.notifier_id)[case_id]
        assert line["state"] == "taken_down", line
        dashboard = brand.get(f"/api/v1/notifiers/{world.notifier_id}/dashboard").json()
        assert dashboard["taken_down"] >= 1, dashboard

        # Without the projections consumer the read models stay behind: a read that asks for
        # the version a command made gives up with 503 and says when to retry.
        served.carriers["projections"].stop()
        posted = agent.post(f"/api/v1/cases/{case_id}/messages", json={"text": "Noted."})
        assert posted.status_code == 200, posted.text
        behind = brand.get(
            f"/api/v1/cases/{case_id}", params={"min_version": posted.json()["version"]}
        )
        assert behind.status_code == 503, behind.text
        assert behind.headers["retry-after"].isdigit()
        assert behind.headers["content-type"].startswith("application/problem+json")
        # A version the case does not have is not waited for.
        never = brand.get(f"/api/v1/cases/{case_id}", params={"min_version": version + 50})
        assert never.status_code == 404, never.text
    finally:
        brand.close()
        agent.close()


def test_a_two_worker_server_under_load_holds_a_bounded_number_of_connections(
    pg_settings: Settings, tmp_path: Path
) -> None:
    """Each pooled system once opened the library's 4 + 10 PostgreSQL connections: two workers
    held 129 after 120 concurrent reads, past a default server's 100. Now at most
    workers × NTD_WEB_POOL (4) × 5."""
    import psycopg2

    from tests.integration.portal import serve

    def connections() -> int:
        with psycopg2.connect(pg_settings.events_dsn) as db, db.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
            (count,) = cursor.fetchone()
        db.close()
        return int(count)

    world = make_world(pg_settings)
    before = connections()
    with (
        serve(pg_settings, tmp_path / "logs", workers=2) as served,
        served.client(world.tokens["agent"]) as client,
    ):
        with ThreadPoolExecutor(40) as pool:
            codes = list(pool.map(lambda _: client.get("/api/v1/cases").status_code, range(120)))
        held = connections() - before
    assert codes == [200] * 120
    assert 0 < held <= 2 * 4 * 5, held
