"""Catching a read store up with the application's own notification log (no broker needed)."""

from __future__ import annotations

from collections.abc import Callable

from domain.application import NtdApplication
from projections.rebuild import decoded
from projections.store import ReadStore


def catch_up(
    app: NtdApplication,
    store: ReadStore,
    *,
    page_size: int = 500,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Apply every notification after the store's position, a page per transaction.

    Stops at the log's last id as read at the start (max_notification_id), so it ends even
    while writes go on. After each page, `progress(done, total)` tells how far this call has
    come: notification ids covered since the starting position, out of last id minus starting
    position (so a bar sized "last id - store position" fills exactly, gaps in ids included).
    Returns how many notifications were read and handed to the store.
    """
    last = app.recorder.max_notification_id() or 0
    start = position = store.position()
    applied = 0
    while position < last:
        page = app.recorder.select_notifications(
            start=position + 1, limit=page_size, stop=last, inclusive_of_start=True
        )
        if not page:
            break
        store.apply(decoded(page, app.mapper))
        applied += len(page)
        position = page[-1].id
        if progress is not None:
            progress(position - start, last - start)
    return applied
