"""How times and figures read, the same in the CLI and the portal: a moment in UTC to the
minute, a moment relative to now, a share, hours, a line shortened, a spreadsheet's cell."""

from __future__ import annotations

from datetime import UTC, datetime

DASH = "—"
"""What stands for a value there is none of."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
"""A CSV cell starting with one of these is a formula to a spreadsheet: a seller id such as
`=HYPERLINK(...)`, filed by anyone, would run on the reader's machine when the file opens.
A cell starting with `'` gets one too, so removing one leading `'` always gives the value back
(docs/evidence.md)."""


def when(moment: datetime | None) -> str:
    """A moment in UTC to the minute, e.g. `2026-11-28 09:14 UTC`."""
    if moment is None:
        return DASH
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime | None, now: datetime) -> str:
    """`in 3 d 4 h` or `2 h ago`, to the nearest hour (minutes under an hour)."""
    if moment is None:
        return DASH
    seconds = (moment - now).total_seconds()
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        span = f"{days} d {hours} h" if hours else f"{days} d"
    elif hours:
        span = f"{hours} h"
    else:
        span = f"{mins} min"
    return f"in {span}" if seconds >= 0 else f"{span} ago"


def pct(share: float | None) -> str:
    """A share as a percentage with one decimal, or a dash when there is nothing to divide."""
    return DASH if share is None else f"{share * 100:.1f} %"


def hours(value: float | None) -> str:
    """Hours with one decimal, or a dash."""
    return DASH if value is None else f"{value:.1f} h"


def short(text: str, width: int = 60) -> str:
    """One line, at most `width` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def csv_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a formula-like string gets a leading `'` (the
    OWASP remedy; JSON keeps every value exactly); None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
