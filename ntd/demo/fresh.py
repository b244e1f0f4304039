"""Where the demo may run: it needs an empty store, and `ntd demo --fresh` empties one first.

`--fresh` deletes only what ntd itself created: the embedded SQLite stores inside the data dir
that carry ntd's mark in their header (written when `build()` creates a store), with their
-wal, -shm and -journal files. Anything else it finds in their place makes it delete nothing.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ntd.bootstrap import STORE_MARK, Ntd, sqlite_stores
from ntd.config import Settings


class DemoError(Exception):
    """The demo cannot run here (e.g. the store already holds events)."""


def wipe(settings: Settings) -> list[str]:
    """Delete the embedded stores ntd created in the data dir, with their -wal, -shm and -journal
    files; returns what was deleted, for the user. Every file is checked before any is deleted:
    a store outside the data dir, a symbolic link, anything not a regular file or without ntd's
    mark in its SQLite header (a store of an older ntd, or not ntd's) makes it delete nothing."""
    if settings.event_store != "sqlite":
        raise DemoError(
            "--fresh deletes only the embedded SQLite stores, but NTD_EVENT_STORE is "
            f"{settings.event_store}; empty that store yourself or use another --data-dir"
        )
    root = settings.data_dir.resolve()
    doomed: list[Path] = []
    problems: list[str] = []
    for store in sqlite_stores(settings):
        named = store in (settings.data_dir / "events.db", settings.data_dir / "read.db")
        files, problem = _confirm(store, root, "" if named else " (NTD_READ_DSN)")
        doomed += [f for f in files if f not in doomed]  # the read store may be the event store
        problems += [problem] if problem else []
    if problems:
        raise DemoError(
            f"--fresh deleted nothing: {'; '.join(problems)}. It deletes only the stores ntd "
            f"created (marked in their SQLite header) inside the data dir {root}: delete the "
            "files by hand if nothing in them is needed, or run the demo with another --data-dir"
        )
    deleted = []
    for path in doomed:
        size = path.stat().st_size
        path.unlink()
        deleted.append(f"deleted {path} ({size / 1e6:.1f} MB)")
    return deleted or [f"--fresh: nothing to delete in {settings.data_dir}"]


COMPANIONS = ("-wal", "-shm", "-journal")
"""The files SQLite keeps beside a database; deleted only with their confirmed store."""


def _confirm(store: Path, root: Path, named: str) -> tuple[list[Path], str]:
    """The files to delete for one store (its companions, then the store), or why not."""
    companions = [store.with_name(store.name + suffix) for suffix in COMPANIONS]
    present = [c for c in companions if os.path.lexists(c)]
    if not os.path.lexists(store):
        if present:
            return [], f"{present[0]} lies there without its store {store.name}"
        return [], ""
    real = store.parent.resolve() / store.name
    if not real.is_relative_to(root):
        where = "" if real == store else f" (it is {real})"
        return [], f"{store}{named} is outside the data dir{where}"
    for path in (store, *present):
        if path.is_symlink():
            return [], f"{path} is a symbolic link (to {os.readlink(path)})"
        if not stat.S_ISREG(path.lstat().st_mode):
            return [], f"{path} is not a regular file"
    with store.open("rb") as file:
        header = file.read(100)
    if not header.startswith(b"SQLite format 3\0"):
        return [], f"{store} is not a SQLite database"
    if int.from_bytes(header[68:72], "big") != STORE_MARK:
        return [], f"{store} has no ntd mark (an older ntd made it, or not ntd)"
    return [*present, store], ""


def refuse_non_empty(ntd: Ntd) -> None:
    """Raise DemoError if the store already holds events (or the read store has projected some)."""
    events = ntd.app.recorder.max_notification_id() or 0
    projected = ntd.read_store.position() if ntd.settings.feed == "log" else 0
    if events or projected:
        where = ntd.settings.data_dir if ntd.settings.event_store == "sqlite" else "the store"
        raise DemoError(
            f"{where} already holds {max(events, projected):,} events; the demo needs an empty "
            "store: run `ntd demo --fresh` to delete it first, or pick another --data-dir"
        )
