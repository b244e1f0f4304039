"""The policy numbers, each a default that operators may change (NTD_RULES); docs/domain.md
shows them in tables generated from this model (scripts/docs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

BUSINESS_DAYS_MAX = 260
"""A deadline of at most a year of business days."""
CALENDAR_DAYS_MAX = 3653
"""A period of at most ten years. With these bounds every deadline computed from a time ntd
accepts (NTD_TIME_MAX_YEAR is at most 9000) stays far inside datetime's year 9999: one
accepted extreme value used to make every later catch-up of the read models overflow."""
COUNT_MAX = 1_000_000


class Rules(BaseModel):
    """Deadlines in business days, other periods in calendar days, thresholds as shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    clarification_days: int = Field(
        5, ge=1, le=BUSINESS_DAYS_MAX, description="notifier must answer a clarification"
    )
    identification_days: int = Field(
        5, ge=1, le=BUSINESS_DAYS_MAX, description="notifier must answer an identification request"
    )
    counter_notice_days: int = Field(
        10, ge=1, le=BUSINESS_DAYS_MAX, description="seller's window to counter-notice"
    )
    restoration_days: int = Field(
        10, ge=1, le=BUSINESS_DAYS_MAX, description="restore after forwarding unless litigation"
    )
    forwarding_days: int = Field(
        3,
        ge=1,
        le=BUSINESS_DAYS_MAX,
        description="platform must forward a counter-notice to the notifier",
    )
    trusted_review_days: int = Field(
        2, ge=1, le=BUSINESS_DAYS_MAX, description="post-hoc review of a fast-lane takedown"
    )
    max_listings_per_notice: int = Field(300, ge=1, le=300)
    strike_lifetime_days: int = Field(
        365, ge=1, le=CALENDAR_DAYS_MAX, description="calendar days a strike stays live"
    )
    strikes_to_suspend: int = Field(3, ge=1, le=COUNT_MAX)
    seller_suspension_days: int = Field(
        180,
        ge=1,
        le=CALENDAR_DAYS_MAX,
        description="calendar days a repeat-infringer suspension lasts",
    )
    trusted_window_days: int = Field(
        91, ge=1, le=CALENDAR_DAYS_MAX, description="trailing window of the lane figures"
    )
    trusted_min_takedown_share: float = Field(0.90, ge=0, le=1)
    trusted_max_reversal_share: float = Field(0.05, ge=0, le=1)
    trusted_min_notices: int = Field(
        20,
        ge=1,
        le=COUNT_MAX,
        description="decided cases whose counter-notice windows have closed, needed for admission",
    )
    trusted_reapply_days: int = Field(91, ge=1, le=CALENDAR_DAYS_MAX)
    misuse_warning_share: float = Field(0.30, ge=0, le=1, description="unfounded share to warn")
    misuse_suspension_share: float = Field(0.50, ge=0, le=1, description="after a warning")
    misuse_min_notices: int = Field(10, ge=1, le=COUNT_MAX)
    misuse_suspension_days: int = Field(30, ge=1, le=CALENDAR_DAYS_MAX)
