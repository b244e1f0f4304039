"""The application service: one method per command; get, call, save. The store is the outbox.

Its commands live in one module per aggregate, on the base in domain/service.py that every
command goes through (the permission check of domain/permissions.py, reading, changing and
saving): access_service, token_service, notifier_service, case_service, seller_service and
evidence_service.
"""

from __future__ import annotations

from domain.access_service import AccessService
from domain.case_service import CaseService
from domain.evidence_service import EvidenceService
from domain.filing import FilingReceipt
from domain.notifier_service import NotifierService
from domain.seller_service import SellerService
from domain.service import BatchReader, ConcurrencyConflict, SystemClock
from domain.token_service import TokenService

__all__ = [
    "BatchReader",
    "ConcurrencyConflict",
    "FilingReceipt",
    "NtdApplication",
    "SystemClock",
]


class NtdApplication(
    AccessService, TokenService, NotifierService, CaseService, SellerService, EvidenceService
):
    """Commands of notice-and-takedown over event-sourced notifiers, cases, sellers and claims."""

    name = "ntd"
