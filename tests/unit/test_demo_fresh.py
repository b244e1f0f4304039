"""`ntd demo --fresh` deletes only the SQLite stores ntd created inside the data dir (marked in
their header), with their companions; anything else makes it delete nothing. `scripts/demo` runs
on a data dir of its own inside the clone."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ntd.bootstrap import STORE_MARK, build
from ntd.cli import cli
from ntd.config import Settings

REPO = Path(__file__).resolve().parents[2]
COMPANIONS = ("-wal", "-shm", "-journal")


def invoke(data_dir: Path, *args: str, read_dsn: str | None = None) -> Result:
    env: dict[str, str | None] = {name: None for name in os.environ if name.startswith("NTD_")}
    env |= {"NTD_DATA_DIR": str(data_dir), "NTD_LOG_FORMAT": "json", "NTD_READ_DSN": read_dsn}
    result = CliRunner(env=env).invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def fresh(data_dir: Path, read_dsn: str | None = None) -> Result:
    return invoke(data_dir, "demo", "--size", "0.01", "--fresh", read_dsn=read_dsn)


def make_stores(data_dir: Path, read_dsn: str | None = None) -> None:
    """What ntd leaves after a run: its event store and read store, as it creates them."""
    env = {"NTD_DATA_DIR": str(data_dir)} | ({"NTD_READ_DSN": read_dsn} if read_dsn else {})
    ntd = build(Settings.from_env(env))
    try:
        ntd.read_store.position()
    finally:
        ntd.close()


def marked(path: Path) -> bool:
    return int.from_bytes(path.read_bytes()[68:72], "big") == STORE_MARK


def refused(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ntd: error: --fresh deleted nothing: ")
    assert all(word in lines[0] for word in words), lines[0]


def test_fresh_refuses_a_read_dsn_naming_a_file_ntd_did_not_create_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    make_stores(data)
    precious = data / "precious.txt"
    precious.write_text("years of notes")
    (data / "precious.txt-wal").write_text("and their journal")
    result = fresh(data, f"sqlite:///{precious}")
    refused(result, str(precious), "not a SQLite database")
    assert precious.read_text() == "years of notes"
    assert (data / "precious.txt-wal").read_text() == "and their journal"
    assert marked(data / "events.db") and marked(data / "read.db")


def test_fresh_refuses_a_store_outside_the_data_dir_even_one_ntd_created(tmp_path: Path) -> None:
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere" / "read.db"
    make_stores(data, f"sqlite:///{elsewhere}")
    result = fresh(data, f"sqlite:///{elsewhere}")
    refused(result, str(elsewhere), "outside the data dir")
    assert marked(elsewhere) and marked(data / "events.db")


def test_fresh_refuses_stores_older_code_created_without_the_mark_even_once_ntd_opened_them(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    make_stores(data)
    with sqlite3.connect(data / "events.db") as db:  # as ntd made it before stores were marked
        db.execute("PRAGMA application_id = 0")
    db.close()
    make_stores(data)  # today's ntd uses an older store as it is and does not mark it
    result = fresh(data)
    refused(result, str(data / "events.db"), "no ntd mark", "by hand", "--data-dir")
    assert (data / "events.db").exists() and (data / "read.db").exists()
    assert not marked(data / "events.db")


@pytest.mark.parametrize("link", ["the store", "a folder on its path"])
def test_fresh_refuses_a_symbolic_link_that_leads_out_of_the_data_dir(
    tmp_path: Path, link: str
) -> None:
    data, outside = tmp_path / "data", tmp_path / "outside"
    make_stores(outside)
    data.mkdir()
    if link == "the store":
        linked, target, read_dsn = data / "events.db", outside / "events.db", None
        linked.symlink_to(target)
        why = "is a symbolic link"
    else:
        linked, target = data / "linked", outside / "read.db"
        linked.symlink_to(outside)
        read_dsn, why = f"sqlite:///{linked / 'read.db'}", "outside the data dir"
    refused(fresh(data, read_dsn), str(linked), why)
    assert linked.is_symlink() and target.exists() and marked(target)


def test_fresh_refuses_a_folder_where_a_store_should_be(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_stores(data)
    (data / "read.db").unlink()
    (data / "read.db").mkdir()
    (data / "read.db" / "kept.txt").write_text("kept")
    refused(fresh(data), str(data / "read.db"), "not a regular file")
    assert (data / "read.db" / "kept.txt").exists() and (data / "events.db").exists()


def test_fresh_refuses_a_wal_file_that_lies_there_without_its_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "read.db-wal").write_text("not ntd's to judge")
    refused(fresh(data), str(data / "read.db-wal"), "without its store")
    assert (data / "read.db-wal").exists()


def test_fresh_deletes_ntds_stores_with_their_wal_shm_and_journal_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_stores(data)
    doomed = [data / "events.db", data / "read.db"]
    for store in list(doomed):
        for suffix in COMPANIONS:
            companion = store.with_name(store.name + suffix)
            companion.write_bytes(b"left by a crash")
            doomed.append(companion)
    result = fresh(data)
    assert result.exit_code == 0, result.output
    assert all(f"deleted {path} " in result.stderr for path in doomed)
    assert not any(data.glob("*-journal"))
    assert marked(data / "events.db") and marked(data / "read.db")


def test_a_second_fresh_demo_deletes_the_first_ones_stores_and_runs_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = fresh(data)
    assert first.exit_code == 0, first.output
    assert f"--fresh: nothing to delete in {data}" in first.stderr
    second = fresh(data)
    assert second.exit_code == 0, second.output
    assert f"deleted {data / 'events.db'}" in second.stderr
    assert f"deleted {data / 'read.db'}" in second.stderr
    assert "Built in" in second.stdout
    assert marked(data / "events.db") and marked(data / "read.db")


def test_scripts_demo_runs_ntd_on_a_data_dir_of_its_own_inside_the_clone(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "scripts").mkdir(parents=True)
    (clone / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "demo", clone / "scripts" / "demo")
    stubs = {
        clone / "scripts" / "setup": "#!/bin/sh\nexit 0\n",
        clone / ".venv" / "bin" / "ntd": '#!/bin/sh\necho "ntd $*"\nenv | grep ^NTD_ | sort\n',
    }
    for path, text in stubs.items():
        path.write_text(text)
        path.chmod(0o755)
    real = tmp_path / "real-stores"
    env = {name: value for name, value in os.environ.items() if not name.startswith("NTD_")}
    env |= {
        "NTD_DATA_DIR": str(real),
        "NTD_READ_DSN": f"sqlite:///{real / 'read.db'}",
        "NTD_EVENT_STORE": "sqlite",
    }
    run = subprocess.run(
        [clone / "scripts" / "demo", "--size", "0.01"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    ntd_saw = run.stdout.splitlines()
    assert ntd_saw[:2] == ["ntd demo --fresh --size 0.01", f"NTD_DATA_DIR={clone / '.demo-data'}"]
    assert not any(line.startswith(("NTD_READ_DSN", "NTD_EVENT_STORE")) for line in ntd_saw)
    assert f"  export NTD_DATA_DIR={clone / '.demo-data'}" in ntd_saw
    assert "  unset NTD_EVENT_STORE NTD_READ_DSN" in ntd_saw
    assert "ignoring NTD_DATA_DIR NTD_EVENT_STORE NTD_READ_DSN" in run.stderr
    assert ".demo-data/" in (REPO / ".gitignore").read_text().splitlines()
