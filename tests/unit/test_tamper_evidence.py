"""Every tampering of issue 15's "Why", done with the sqlite3 module on a copy of a data
directory, is caught by `ntd audit verify` with the spot named (items 1-3)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from uuid import UUID

import pytest

from ntd.store_chain import GENESIS, link
from projections.audit import COLUMNS, AuditRecord, row_hash
from tests.unit.test_cli import (  # noqa: F401  (fixtures used by name)
    ALICE,
    AUDREY,
    ROOT,
    SELLER,
    data_dir,
    error_lines,
    filed,
    ok,
    run,
    staff,
)

FACTS = "Test buy: counterfeit"


@pytest.fixture
def evidence(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,  # noqa: F811
    filed: dict[str, str],  # noqa: F811
) -> Iterator[dict[str, str]]:
    """A signed, checkpointed store with a case taken down and counter-noticed, copied: the
    copy is what the tests tamper with and verify."""
    monkeypatch.setenv("NTD_SIGNING_KEY", str(tmp_path / "keys" / "signing.key"))
    public = ok("keys", "init").strip()
    case = filed["case"]
    ok("case", "take-down", case, "--facts", FACTS, "--as", ALICE)
    ok("case", "counter-notice", case, "--statement", "Mine", "--consent", "--as", SELLER)
    ok("audit", "verify", "--as", AUDREY)  # the views and the policies catch up
    ok("audit", "checkpoint", "--force", "--as", ROOT)
    assert "event store chain intact" in ok("audit", "verify", "--as", AUDREY)
    copy = tmp_path / "copy"
    shutil.copytree(data_dir, copy)
    monkeypatch.setenv("NTD_DATA_DIR", str(copy))
    yield {"case": case, "dir": str(copy), "public": public}


def _store(where: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(where["dir"]) / "events.db", isolation_level=None)


def _position(where: dict[str, str], topic_part: str) -> int:
    with closing(_store(where)) as db:
        (position,) = db.execute(
            "SELECT rowid FROM stored_events WHERE originator_id = ? AND topic LIKE ?",
            (where["case"].replace("-", ""), f"%{topic_part}%"),
        ).fetchone()
    return int(position)


def _refused(*args: str) -> str:
    result = run("audit", "verify", *args, "--as", AUDREY)
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    return line


def _at(position: int, line: str) -> bool:
    """Whether the line names this position of the store (not one that starts with its digits)."""
    return f"position {position}:" in line or f"position {position} (" in line


def _edit_facts(db: sqlite3.Connection, position: int) -> None:
    (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = ?", (position,)).fetchone()
    forged = bytes(state).replace(FACTS.encode(), b"Test buy: genuine, no issue")
    db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (forged, position))


def test_editing_a_stored_takedown_s_facts_is_caught_at_its_position(
    evidence: dict[str, str],
) -> None:
    position = _position(evidence, "TakenDown")
    with closing(_store(evidence)) as db:
        _edit_facts(db, position)
    line = _refused()
    assert "event store chain broken" in line and _at(position, line)
    assert evidence["case"] in line


def test_deleting_a_case_s_last_stored_event_is_caught(evidence: dict[str, str]) -> None:
    position = _position(evidence, "CounterNoticed")
    with closing(_store(evidence)) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
    line = _refused()
    assert _at(position, line) and "its event was deleted" in line


def test_deleting_an_event_with_its_link_is_caught_after_it(evidence: dict[str, str]) -> None:
    position = _position(evidence, "TakenDown")
    with closing(_store(evidence)) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
        db.execute("DELETE FROM stored_events_chain WHERE notification_id = ?", (position,))
    assert _at(position + 1, _refused())


def test_swapping_two_stored_events_is_caught(evidence: dict[str, str]) -> None:
    first, second = _position(evidence, "TakenDown"), _position(evidence, "CounterNoticed")
    with closing(_store(evidence)) as db:
        rows = {
            p: db.execute("SELECT topic, state FROM stored_events WHERE rowid = ?", (p,)).fetchone()
            for p in (first, second)
        }
        for here, there in ((first, second), (second, first)):
            db.execute(
                "UPDATE stored_events SET topic = ?, state = ? WHERE rowid = ?",
                (*rows[there], here),
            )
    assert _at(first, _refused())


def test_a_stored_topic_changed_to_another_module_is_caught(evidence: dict[str, str]) -> None:
    position = _position(evidence, "CounterNoticed")
    with closing(_store(evidence)) as db:
        db.execute("UPDATE stored_events SET topic = 'this:x' WHERE rowid = ?", (position,))
    line = _refused()
    assert _at(position, line)
    assert "Beautiful is better" not in line


def test_deleting_the_whole_chain_is_caught_and_rechaining_it_too(
    evidence: dict[str, str],
) -> None:
    with closing(_store(evidence)) as db:
        db.execute("DELETE FROM stored_events_chain")
    line = _refused()
    assert _at(1, line) and "has no link" in line

    position = _position(evidence, "TakenDown")
    with closing(_store(evidence)) as db:
        _edit_facts(db, position)
    ok("audit", "chain", "--migrate", "--as", ROOT)  # the forged store, freshly chained
    line = _refused()
    assert "differs from the signed checkpoint" in line


def test_recomputing_every_link_after_an_edit_is_caught_by_the_signed_checkpoint(
    evidence: dict[str, str],
) -> None:
    position = _position(evidence, "TakenDown")
    with closing(_store(evidence)) as db:
        _edit_facts(db, position)
        head = GENESIS
        rows = db.execute(
            "SELECT e.rowid, e.originator_id, e.originator_version, c.recorded_at, e.topic,"
            " e.state FROM stored_events e JOIN stored_events_chain c"
            " ON c.notification_id = e.rowid ORDER BY e.rowid"
        ).fetchall()
        for rowid, hex_id, version, at, topic, state in rows:
            head = link(head, rowid, UUID(hex_id), version, at, topic, bytes(state))
            db.execute(
                "UPDATE stored_events_chain SET hash = ? WHERE notification_id = ?",
                (head, rowid),
            )
    line = _refused()
    assert "differs from the signed checkpoint" in line and "recomputed" in line


def test_truncating_the_store_is_caught_by_the_signed_checkpoint(evidence: dict[str, str]) -> None:
    with closing(_store(evidence)) as db:
        (last,) = db.execute("SELECT max(rowid) FROM stored_events").fetchone()
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (last,))
        db.execute("DELETE FROM stored_events_chain WHERE notification_id = ?", (last,))
    line = _refused()
    assert f"checkpoint is at position {last:,}" in line and "deleted at the end" in line


def test_a_forged_checkpoint_is_caught_by_its_signature(evidence: dict[str, str]) -> None:
    with closing(_store(evidence)) as db:
        db.execute("UPDATE stored_events_checkpoints SET head = ?", ("00" * 32,))
    assert "signature is not valid" in _refused()


def _read(where: dict[str, str]) -> sqlite3.Connection:
    return sqlite3.connect(Path(where["dir"]) / "read.db", isolation_level=None)


def test_deleting_one_case_s_whole_trail_is_caught(evidence: dict[str, str]) -> None:
    with closing(_read(evidence)) as db:
        db.execute("DELETE FROM read_audit WHERE aggregate_id = ?", (evidence["case"],))
        db.execute("DELETE FROM read_audit_chains WHERE aggregate_id = ?", (evidence["case"],))
    line = _refused()
    assert "trail does not match the store" in line and "has no trail row" in line
    assert evidence["case"] in line


def test_editing_a_trail_row_and_recomputing_its_hashes_is_caught(
    evidence: dict[str, str],
) -> None:
    case = evidence["case"]
    with closing(_read(evidence)) as db:
        columns = ", ".join(COLUMNS)
        rows = [
            AuditRecord(*r)
            for r in db.execute(
                f"SELECT {columns} FROM read_audit WHERE aggregate_id = ? ORDER BY version",
                (case,),
            )
        ]
        prev = rows[0].prev_hash
        for record in rows:
            payload = record.payload.replace(FACTS, "Test buy: genuine, no issue")
            content = (*record.content()[:-2], payload, record.content()[-1])
            digest = row_hash(prev, content)
            db.execute(
                "UPDATE read_audit SET payload = ?, prev_hash = ?, hash = ? WHERE event_id = ?",
                (payload, prev, digest, record.event_id),
            )
            prev = digest
        db.execute(
            "UPDATE read_audit_chains SET head_hash = ? WHERE aggregate_id = ?", (prev, case)
        )
    line = _refused()
    assert "trail does not match the store" in line and "content differs" in line
    assert "audit trail broken" not in line  # its own chains were made to hold


def test_an_export_is_verified_offline_and_a_changed_line_is_caught(
    evidence: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "chain.jsonl"
    ok("audit", "chain", "--export", str(export), "--as", AUDREY)
    offline = ("audit", "verify", "--export", str(export), "--public-key", evidence["public"])
    assert "event store chain intact" in ok(*offline)

    lines = export.read_text().splitlines()
    record = json.loads(lines[2])
    record["topic"] = record["topic"] + "x"
    lines[2] = json.dumps(record)
    export.write_text("\n".join(lines) + "\n")
    result = run(*offline)
    assert result.exit_code == 1
    assert _at(record["position"], error_lines(result)[0])


# -- item 4: a rebuild never launders a tampered store ---------------------------------------


def _rebuild_refused() -> str:
    result = run("projections", "rebuild", "--all")
    assert result.exit_code == 1, result.output
    [line] = error_lines(result)
    assert "refusing to rebuild" in line
    return line


def test_a_rebuild_refuses_a_store_whose_takedown_facts_were_edited(
    evidence: dict[str, str],
) -> None:
    position = _position(evidence, "TakenDown")
    with closing(_store(evidence)) as db:
        _edit_facts(db, position)
    assert _at(position, _rebuild_refused())
    assert _at(position, _refused())  # the trail still holds the originals, and says so


def test_a_rebuild_refuses_a_store_missing_a_case_s_counter_notice(
    evidence: dict[str, str],
) -> None:
    position = _position(evidence, "CounterNoticed")
    with closing(_store(evidence)) as db:
        db.execute("DELETE FROM stored_events WHERE rowid = ?", (position,))
        db.execute("DELETE FROM stored_events_chain WHERE notification_id = ?", (position,))
    line = _rebuild_refused()
    assert "position" in line


def test_a_rebuild_refuses_a_re_chained_forgery(evidence: dict[str, str]) -> None:
    with closing(_store(evidence)) as db:
        _edit_facts(db, _position(evidence, "TakenDown"))
        db.execute("DELETE FROM stored_events_chain")
    ok("audit", "chain", "--migrate", "--as", ROOT)
    assert "signed checkpoint" in _rebuild_refused()


def test_an_override_rebuilds_and_records_who_and_why_as_an_event(
    evidence: dict[str, str],
) -> None:
    with closing(_store(evidence)) as db:
        _edit_facts(db, _position(evidence, "TakenDown"))
    refused = run(
        "projections",
        "rebuild",
        "--all",
        "--override-broken-chain",
        "--reason",
        "x",
        "--as",
        AUDREY,
    )
    assert refused.exit_code == 1 and "may not override" in error_lines(refused)[0]
    ok(
        "projections",
        "rebuild",
        "--all",
        "--override-broken-chain",
        "--reason",
        "legal hold: rebuilding for the court's copy",
        "--as",
        ROOT,
    )
    with closing(_store(evidence)) as db:
        [(state,)] = db.execute(
            "SELECT state FROM stored_events WHERE topic LIKE '%ChainOverride%'"
        ).fetchall()
    recorded = json.loads(state)
    assert recorded["reason"] == "legal hold: rebuilding for the court's copy"
    assert recorded["operation"] == "projections rebuild" and "root" in json.dumps(recorded)


def test_since_checkpoint_walks_only_from_the_latest_signed_checkpoint(
    evidence: dict[str, str],
) -> None:
    routine = ("audit", "verify", "--since-checkpoint", "--as", AUDREY)
    ok("case", "show", evidence["case"], "--as", ALICE)  # nothing new: the checkpoint is the head
    assert "0 events" in ok(*routine)
    with closing(_store(evidence)) as db:
        _edit_facts(db, _position(evidence, "TakenDown"))
    assert "event store chain intact" in ok(*routine)  # before the checkpoint: the full run's job
    assert "event store chain broken" in _refused()
    with closing(_store(evidence)) as db:
        (last,) = db.execute("SELECT max(notification_id) FROM stored_events_chain").fetchone()
        db.execute(
            "UPDATE stored_events_chain SET hash = zeroblob(32) WHERE notification_id = ?", (last,)
        )
    result = run(*routine)
    assert result.exit_code == 1 and "differs from the signed checkpoint" in error_lines(result)[0]


def test_checkpoints_kept_outside_the_store_catch_a_forgery_that_deleted_the_stored_ones(
    evidence: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "kept.jsonl"
    kept.write_text(ok("audit", "checkpoints", "--as", AUDREY))
    with closing(_store(evidence)) as db:
        _edit_facts(db, _position(evidence, "TakenDown"))
        db.execute("DELETE FROM stored_events_chain")
        db.execute("DELETE FROM stored_events_checkpoints")
    monkeypatch.setenv("NTD_SIGNING_KEY", str(tmp_path / "not-in-the-copy.key"))
    ok("audit", "chain", "--migrate", "--as", ROOT)
    unanchored = run("audit", "verify", "--as", AUDREY)
    assert "event store chain intact" in unanchored.stdout  # nothing in the copy anchors it
    assert "trail does not match the store" in error_lines(unanchored)[0]  # the trail still does
    line = _refused("--checkpoints", str(kept), "--public-key", evidence["public"])
    assert "differs from the signed checkpoint" in line

    kept.write_text("not a checkpoint\n")
    assert "line 1 is not a checkpoint" in _refused("--checkpoints", str(kept))
