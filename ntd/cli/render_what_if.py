"""Rendering a policy what-if (ntd/what_if.py): a table for people, JSON for programs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ntd.cli.render import escape, table
from ntd.formats import DASH, when
from ntd.what_if import NotifierChange, Outcome, SellerChange, Step, WhatIf


def what_if_text(result: WhatIf) -> str:
    """The what-if as text: the rules changed, the counts side by side, then every seller and
    notifier that would have fared otherwise."""
    changed = result.changed_rules
    rules = ", ".join(f"{name} {now} → {new}" for name, (now, new) in changed.items())
    start = f"from {when(result.since)}" if result.since else "over the whole history"
    lines = [
        f"what-if: {rules or 'the rules in force (nothing changed)'}, {start}",
        f"{result.events:,} events replayed",
        "",
        table(
            ["STEP", "HAPPENED", "WHAT-IF", "CHANGE"],
            [[step.label, h, w, _change(h, w)] for step, (h, w) in result.counts().items()],
        ),
    ]
    if result.same:
        lines += ["", "no seller or notifier would have fared otherwise"]
        return "\n".join(lines)
    sellers, notifiers = result.sellers(), result.notifiers()
    if sellers:
        lines += [
            "",
            f"sellers that would have fared otherwise ({len(sellers)})",
            _sellers(sellers),
        ]
    if notifiers:
        lines += ["", f"notifiers' standing otherwise ({len(notifiers)})", _notifiers(notifiers)]
    return "\n".join(lines)


def _change(happened: int, would: int) -> str:
    return f"{would - happened:+d}" if would != happened else "0"


def _sellers(changes: list[SellerChange]) -> str:
    rows = []
    for change in changes:
        happened, would = change.count(Step.STRIKE)
        suspended, would_suspend = change.suspensions()
        rows.append(
            [
                escape(change.name),
                f"{happened} → {would}",
                _days(suspended),
                _days(would_suspend),
                change.verdict,
            ]
        )
    return table(["SELLER", "STRIKES", "SUSPENDED", "WOULD BE SUSPENDED", "CHANGE"], rows)


def _days(outcomes: Iterable[Outcome]) -> str:
    return ", ".join(f"{o.at:%Y-%m-%d}" for o in outcomes) or DASH


def _notifiers(changes: list[NotifierChange]) -> str:
    rows = [[escape(c.name), c.verdict, _moment(c.happened), _moment(c.would)] for c in changes]
    return table(["NOTIFIER", "CHANGE", "HAPPENED", "WHAT-IF"], rows)


def _moment(outcome: Outcome | None) -> str:
    return when(outcome.at) if outcome is not None else DASH


# -- JSON --------------------------------------------------------------------------------------


def what_if_data(result: WhatIf) -> dict[str, Any]:
    """The what-if as JSON-ready data."""
    return {
        "rules": {
            "changed": {
                name: {"in_force": now, "what_if": new}
                for name, (now, new) in result.changed_rules.items()
            },
            "what_if": result.rules.model_dump(mode="json"),
        },
        "since": result.since.isoformat() if result.since else None,
        "events": result.events,
        "same": result.same,
        "counts": {
            str(step): {"happened": h, "what_if": w} for step, (h, w) in result.counts().items()
        },
        "sellers": [_seller(change) for change in result.sellers()],
        "notifiers": [_notifier(change) for change in result.notifiers()],
    }


def _seller(change: SellerChange) -> dict[str, Any]:
    def side(outcomes: tuple[Outcome, ...]) -> dict[str, Any]:
        return {
            "strikes": [o.key for o in outcomes if o.step is Step.STRIKE],
            "strikes_removed": [o.key for o in outcomes if o.step is Step.STRIKE_REMOVED],
            "suspensions": [_outcome(o) for o in outcomes if o.step is Step.SELLER_SUSPENDED],
            "suspensions_lifted": [_outcome(o) for o in outcomes if o.step is Step.SELLER_LIFTED],
        }

    return {
        "seller_id": str(change.seller_id),
        "seller": change.name,
        "change": change.verdict,
        "happened": side(change.happened),
        "what_if": side(change.would),
    }


def _notifier(change: NotifierChange) -> dict[str, Any]:
    return {
        "notifier_id": str(change.notifier_id),
        "notifier": change.name,
        "step": str(change.step),
        "change": change.verdict,
        "happened": _outcome(change.happened) if change.happened else None,
        "what_if": _outcome(change.would) if change.would else None,
    }


def _outcome(outcome: Outcome) -> dict[str, Any]:
    return {
        "at": outcome.at.isoformat(),
        "until": outcome.until.isoformat() if outcome.until else None,
        "cause": outcome.key,
    }
