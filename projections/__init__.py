"""The read side: events become case summaries, notifier standings, an audit trail and deadlines.

Handlers (handlers.py) compute each change from the event and express it through the view ports
(ports.py); adapters store it: SQL (sqlite3 or psycopg2, the sql package) and in memory (memory.py).
"""

from projections.embedded import catch_up
from projections.handlers import ProjectionError
from projections.models import (
    AuditQuery,
    AuditRow,
    AuditVerification,
    BrokenLink,
    CaseSummary,
    Dashboard,
    DueDeadline,
    NotifierSummary,
    SellerFigure,
    TrustedFigures,
)
from projections.store import ReadStore

__all__ = [
    "AuditQuery",
    "AuditRow",
    "AuditVerification",
    "BrokenLink",
    "CaseSummary",
    "Dashboard",
    "DueDeadline",
    "NotifierSummary",
    "ProjectionError",
    "ReadStore",
    "SellerFigure",
    "TrustedFigures",
    "catch_up",
]
