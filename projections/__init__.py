"""The read side: events become case summaries, notifier standings, an audit trail, deadlines,
case lists and work queues (queues.py says what they mean).

Handlers (handlers.py) compute each change from the event and express it through the view ports
(ports.py); adapters store it: SQL (sqlite3 or psycopg2, the sql package) and in memory (memory.py).
"""

from projections.embedded import catch_up
from projections.handlers import ProjectionError
from projections.models import (
    ActionFigures,
    ActionItem,
    AuditQuery,
    AuditRow,
    AuditVerification,
    BrokenLink,
    CaseLine,
    CaseQuery,
    CaseSummary,
    Dashboard,
    DueDeadline,
    IdentificationFigures,
    NeedsAction,
    NotifierSummary,
    SellerFigure,
    TrustedFigures,
)
from projections.store import ReadStore

__all__ = [
    "ActionFigures",
    "ActionItem",
    "AuditQuery",
    "AuditRow",
    "AuditVerification",
    "BrokenLink",
    "CaseLine",
    "CaseQuery",
    "CaseSummary",
    "Dashboard",
    "DueDeadline",
    "IdentificationFigures",
    "NeedsAction",
    "NotifierSummary",
    "ProjectionError",
    "ReadStore",
    "SellerFigure",
    "TrustedFigures",
    "catch_up",
]
