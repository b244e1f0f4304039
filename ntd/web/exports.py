"""The audit trail as a streamed download, for the API and the auditor's page alike."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from domain.values import Actor
from ntd import audit_export, reads
from ntd.web.runtime import Portal
from projections.models import AuditQuery


def audit_chunks(
    here: Portal, actor: Actor, query: AuditQuery, limit: int | None, fmt: str
) -> Iterator[str]:
    """The matching rows as text, a chunk per row; the borrowed system is held until the end."""
    with here.ntd() as ntd:
        rows = reads.audit_rows(ntd, actor, query, here.caught_up)
        try:
            chosen = islice(rows, limit) if limit is not None else rows
            yield from audit_export.chunks(chosen, fmt)
        finally:
            reads.close(rows)
