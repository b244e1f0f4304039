"""The tables of docs/domain.md, generated from the code they describe: the lifecycle table
(domain/case.py), the permission table (domain/permissions.py), the clocks, the policy numbers
(domain/rules.py) and the statement of reasons (domain/values.py). The prose around them is written
by hand; each table sits between `<!-- generated: NAME -->` and `<!-- end -->` and is rewritten by
`scripts/docs`. A unit test fails when the file is stale, so the document cannot drift from the
code.

What the code does not say as data is declared here once (which step opens which deadline, what
a state means, the DSA name of each field); the generator refuses a state, deadline, rule or field
this module does not describe, so a new one cannot go undocumented, and tests/unit/test_docs.py
checks the declarations against the application's behaviour."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic.fields import FieldInfo

from domain.case import Case
from domain.catalog import ce_type
from domain.lifecycle import DEADLINE_STEP, OPEN, RESOLVED, TRANSITIONS, Deadline, State, Step
from domain.permissions import PERMISSIONS, Scope
from domain.rules import Rules
from domain.values import CATEGORY_KEYWORD, StatementOfReasons

DOC = Path(__file__).resolve().parents[1] / "docs" / "domain.md"
"""The document whose tables this module writes."""

Transitions = Mapping[tuple[Step, State], State]

# -- what the code does not hold as data ---------------------------------------------------------

STATE_MEANING: dict[State, str] = {
    State.FILED: "awaiting a decision by an agent",
    State.AWAITING_CLARIFICATION: "the notifier was asked for what the notice lacks",
    State.TAKEN_DOWN_PENDING_REVIEW: "removed at once in the trusted lane; a reviewer looks again",
    State.TAKEN_DOWN: "removed after review; the seller may counter-notice",
    State.DECLINED: "the notice was refused for this listing",
    State.COUNTER_NOTICED: "the seller appealed the takedown",
    State.FORWARDED: "the counter-notice went to the notifier; restoration is scheduled",
    State.IN_LITIGATION: "the notifier went to court; the listing stays down",
    State.REINSTATED: "the listing is back up (reversed, appeal upheld or restored)",
    State.APPEAL_REJECTED: "the takedown stands after the appeal",
    State.WITHDRAWN: "the notifier retracted the notice for this listing",
    State.LAPSED: "the notifier never answered the clarification request",
    State.CLOSED: "closed for good",
}


@dataclass(frozen=True)
class Clock:
    """One deadline of a case: the step that opens it, the rule that sets its length in
    business days, and the steps that close it before it passes."""

    deadline: Deadline
    opened_by: Step
    rule: str
    closed_by: tuple[Step, ...]
    note: str = ""


CLOCKS: tuple[Clock, ...] = (
    Clock(
        Deadline.CLARIFICATION,
        Step.REQUEST_CLARIFICATION,
        "clarification_days",
        (Step.PROVIDE_CLARIFICATION,),
    ),
    Clock(
        Deadline.REVIEW,
        Step.TAKE_DOWN_TRUSTED,
        "trusted_review_days",
        (Step.CONFIRM_TAKEDOWN, Step.REVERSE_TAKEDOWN, Step.COUNTER_NOTICE),
        "at filing, in the trusted lane",
    ),
    Clock(
        Deadline.COUNTER_NOTICE,
        Step.NOTIFY_SELLER,
        "counter_notice_days",
        (Step.COUNTER_NOTICE,),
        "in the same command as every takedown",
    ),
    Clock(
        Deadline.FORWARDING,
        Step.COUNTER_NOTICE,
        "forwarding_days",
        (Step.FORWARD_TO_NOTIFIER,),
    ),
    Clock(
        Deadline.RESTORATION,
        Step.FORWARD_TO_NOTIFIER,
        "restoration_days",
        (Step.REPORT_LITIGATION,),
    ),
    Clock(
        Deadline.IDENTIFICATION,
        Step.REQUEST_IDENTIFICATION,
        "identification_days",
        (Step.ANSWER_IDENTIFICATION, Step.DECLINE),
        "one open at a time; any step out of `filed`, `taken_down_pending_review` and "
        "`counter_noticed` closes it unanswered",
    ),
)
"""Every deadline of a case; checked against the application in tests/unit/test_docs.py."""

RULE_GROUPS: dict[str, tuple[str, ...]] = {
    "notices": ("max_listings_per_notice",),
    "strikes": ("strike_lifetime_days", "strikes_to_suspend", "seller_suspension_days"),
    "trusted lane": (
        "trusted_window_days",
        "trusted_min_notices",
        "trusted_min_takedown_share",
        "trusted_max_reversal_share",
        "trusted_reapply_days",
    ),
    "misuse": (
        "misuse_min_notices",
        "misuse_warning_share",
        "misuse_suspension_share",
        "misuse_suspension_days",
    ),
}
"""The policy numbers by policy; the deadline lengths are in CLOCKS."""

RULE_MEANING: dict[str, str] = {
    "max_listings_per_notice": "listings one notice may name (a case each)",
    "strikes_to_suspend": "live strikes that suspend a seller",
    "trusted_min_notices": "decided notices in the window past their counter-notice window "
    "(declined, or taken down and the window closed or the appeal decided) before the shares "
    "count at all",
    "trusted_min_takedown_share": "of decided notices, ended in a takedown that stood: at least",
    "trusted_max_reversal_share": "of takedowns, reversed: at most",
    "trusted_reapply_days": "wait after a removal from the lane before admission again",
    "misuse_min_notices": "decided notices in the window before misuse is judged",
    "misuse_warning_share": "of decided notices, declined: a warning at or above it",
    "misuse_suspension_share": "of notices filed since the warning and decided, declined: "
    "a suspension at or above it",
    "misuse_suspension_days": "how long a misuse suspension lasts",
}
"""What each rule is for, where the field's own description is missing or too terse for a
reader (the description serves otherwise)."""

DSA_FIELD: dict[str, str] = {
    "ground": "`decision_ground`",
    "legal_ground": "`illegal_content_legal_ground`",
    "facts": "`decision_facts`",
    "visibility": "`decision_visibility[]`",
    "automated_detection": "`automated_detection`",
    "automated_decision": "`automated_decision`",
    "territorial_scope": "`territorial_scope[]`",
}
"""The EU Transparency Database field each StatementOfReasons field becomes."""

RECORDED_AS: dict[Step, type[Any]] = {Step.TAKE_DOWN_TRUSTED: Case.TakenDown}
"""Steps whose event does not declare the step as its default: a trusted takedown is a
`TakenDown` with step take_down_trusted (deadline steps are `DeadlineMissed`: DEADLINE_STEP)."""


# -- the tables ----------------------------------------------------------------------------------


NO_ROLE = "no role: the command checks its own proof (an empty store, a token, a session)"
"""Who may give a command of the table that no role allows."""


def _code(value: object) -> str:
    return f"`{value.value if isinstance(value, Enum) else value}`"


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def recorded_as(step: Step) -> type[Any]:
    """The case event that records a step."""
    if step in RECORDED_AS:
        return RECORDED_AS[step]
    if step in DEADLINE_STEP.values():
        return Case.DeadlineMissed
    for value in vars(Case).values():
        if (
            isinstance(value, type)
            and issubclass(value, Case.Transitioned)
            and value.model_fields["step"].default == step
        ):
            return value
    raise LookupError(f"no case event records the step {step.value}: add it to RECORDED_AS")


def states_table(transitions: Transitions = TRANSITIONS) -> str:
    """Every state, whether it is open or resolved, and the steps allowed from it."""
    rows = []
    for state in State:
        if state not in STATE_MEANING:
            raise LookupError(f"state {state.value} has no meaning in ntd/docs.py STATE_MEANING")
        if state in OPEN:
            kind = "open"
        elif state in RESOLVED:
            kind = "final" if state is State.CLOSED else "resolved"
        else:
            raise LookupError(f"state {state.value} is neither open nor resolved")
        steps = [_code(step) for step in Step if (step, state) in transitions]
        rows.append([_code(state), kind, STATE_MEANING[state], ", ".join(steps) or "nothing"])
    return _table(["state", "kind", "meaning", "steps allowed"], rows)


def transitions_table(transitions: Transitions = TRANSITIONS) -> str:
    """Every allowed step, from which states, to which state, and the event that records it."""
    rows = []
    for step in Step:
        targets: dict[State | None, list[State]] = {}
        for state in State:
            if (step, state) in transitions:
                after = transitions[(step, state)]
                targets.setdefault(None if after is state else after, []).append(state)
        if not targets:
            raise LookupError(f"step {step.value} is allowed from no state")
        for target, sources in targets.items():
            others = [state for state in State if state not in sources]
            frm = (
                f"any but {_code(others[0])}"
                if len(others) == 1
                else ", ".join(map(_code, sources))
            )
            to = "(unchanged)" if target is None else _code(target)
            rows.append([_code(step), frm, to, _code(ce_type(recorded_as(step)))])
    return _table(["step", "from", "to", "recorded as"], rows)


def _passes(deadline: Deadline, transitions: Transitions) -> str:
    step = DEADLINE_STEP[deadline]
    effects = [
        f"{_code(state)} → {'unchanged' if after is state else _code(after)}"
        for (s, state), after in transitions.items()
        if s is step
    ]
    return f"{_code(step)}: " + "; ".join(effects)


def clocks_table(rules: Rules, transitions: Transitions = TRANSITIONS) -> str:
    """Every deadline: what opens it, how long it runs, what closes it, what passing it does."""
    declared = [clock.deadline for clock in CLOCKS]
    if sorted(declared) != sorted(Deadline) or len(set(declared)) != len(declared):
        raise LookupError("ntd/docs.py CLOCKS must name every Deadline once")
    rows = []
    for clock in CLOCKS:
        opened = _code(clock.opened_by) + (f" ({clock.note})" if clock.note else "")
        length = f"{_code(clock.rule)}: {getattr(rules, clock.rule)} business days"
        closed = ", ".join(map(_code, clock.closed_by))
        rows.append(
            [_code(clock.deadline), opened, length, closed, _passes(clock.deadline, transitions)]
        )
    return _table(["deadline", "opened by", "runs for", "closed early by", "when it passes"], rows)


def business_day_rules() -> set[str]:
    """The rules counted in business days: the deadlines' lengths."""
    return {clock.rule for clock in CLOCKS}


def _number(name: str, value: Any) -> str:
    if name in business_day_rules():
        return f"{value} business days"
    if name.endswith("_days"):
        return f"{value} calendar days"
    if name.endswith("_share"):
        return f"{value:.0%}"
    return str(value)


def _bounds(field: FieldInfo) -> str:
    low = next((m.ge for m in field.metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in field.metadata if hasattr(m, "le")), None)
    if low is not None and high is not None:
        return f"{low}–{high}"
    return f"≥ {low}" if low is not None else (f"≤ {high}" if high is not None else "any")


def meaning(name: str) -> str:
    """What a rule is for: RULE_MEANING, else its field's description."""
    text = RULE_MEANING.get(name) or Rules.model_fields[name].description
    if not text:
        raise LookupError(f"rule {name} needs a description (domain/rules.py) or RULE_MEANING")
    return text


def rules_table(group: str, rules: Rules) -> str:
    """The numbers of one policy: each rule's NTD_RULES key, default, allowed values, meaning."""
    rows = [
        [
            _code(name),
            _number(name, getattr(rules, name)),
            _bounds(Rules.model_fields[name]),
            meaning(name),
        ]
        for name in RULE_GROUPS[group]
    ]
    return _table(["rule (NTD_RULES key)", "default", "allowed", "meaning"], rows)


def check_rule_groups() -> None:
    """Every rule in exactly one place: a deadline's length or one policy's group."""
    placed = [clock.rule for clock in CLOCKS] + [n for g in RULE_GROUPS.values() for n in g]
    missing = [name for name in Rules.model_fields if name not in placed]
    unknown = [name for name in [*placed, *RULE_MEANING] if name not in Rules.model_fields]
    twice = sorted({name for name in placed if placed.count(name) > 1})
    if missing or unknown or twice:
        raise LookupError(
            f"ntd/docs.py CLOCKS, RULE_GROUPS, RULE_MEANING: undocumented rules {missing}, "
            f"unknown {unknown}, placed twice {twice}"
        )


def _kind(annotation: Any, field: FieldInfo) -> str:
    if get_origin(annotation) is tuple:
        item = get_args(annotation)[0]
        least = next((m.min_length for m in field.metadata if hasattr(m, "min_length")), 0)
        return f"{'one or more' if least else 'any number'} of: {_kind(item, FieldInfo())}"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ", ".join(_code(member) for member in annotation)
    if annotation is bool:
        return "yes or no"
    if annotation is str:
        longest = next((m.max_length for m in field.metadata if hasattr(m, "max_length")), None)
        return f"text up to {longest} characters" if longest else "text"
    raise LookupError(f"ntd/docs.py cannot describe the type {annotation!r}")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default()
    if value == ():
        return "none"
    return _code(value) if isinstance(value, Enum) else ("no" if value is False else str(value))


def reasons_table() -> str:
    """The fields of a statement of reasons, their values, and their DSA names."""
    rows = []
    for name, field in StatementOfReasons.model_fields.items():
        if name not in DSA_FIELD:
            raise LookupError(f"statement of reasons field {name} has no DSA_FIELD in ntd/docs.py")
        rows.append([_code(name), _kind(field.annotation, field), _default(field), DSA_FIELD[name]])
    return _table(["field", "values", "default", "DSA transparency database"], rows)


def keywords_table() -> str:
    """The DSA category specification of each right type."""
    rows = [[_code(right), _code(keyword)] for right, keyword in CATEGORY_KEYWORD.items()]
    return _table(["right type", "`category_specification`"], rows)


def reasoned_events() -> list[str]:
    """The case events that carry a statement of reasons."""
    return [
        _code(ce_type(value))
        for value in vars(Case).values()
        if isinstance(value, type)
        and issubclass(value, Case.Transitioned)
        and "reasons" in value.model_fields
    ]


def permissions_table() -> str:
    """The permission table: each command or read, the roles it allows and how far each reaches."""
    rows = []
    for name, row in PERMISSIONS.items():
        allowed = [
            role.value if scope is Scope.ANY else f"{role.value} ({scope.value})"
            for role, scope in row.roles.items()
        ]
        rows.append((_code(name), row.does, ", ".join(allowed) or NO_ROLE))
    return _table(("command", "what it does", "allowed to (reach)"), rows)


def generated(rules: Rules | None = None, transitions: Transitions = TRANSITIONS) -> dict[str, str]:
    """Every generated block of docs/domain.md by name; `rules` gives the defaults shown (a
    changed default or transition shows up in the tests as a stale document)."""
    rules = rules or Rules()
    check_rule_groups()
    return {
        "states": states_table(transitions),
        "transitions": transitions_table(transitions),
        "clocks": clocks_table(rules, transitions),
        **{f"rules: {group}": rules_table(group, rules) for group in RULE_GROUPS},
        "statement of reasons": reasons_table(),
        "reasoned events": ", ".join(reasoned_events()),
        "category keywords": keywords_table(),
        "permissions": permissions_table(),
    }


# -- the document --------------------------------------------------------------------------------

BLOCK = re.compile(r"(<!-- generated: (?P<name>[^>]*?) -->\n)(?P<body>.*?)(<!-- end -->)", re.S)


def _body(text: str) -> str:
    return f"\n{text}\n\n"


def render(document: str, blocks: Mapping[str, str]) -> str:
    """The document with every generated block rewritten (unknown names are left alone)."""

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            return match[0]
        return match[1] + _body(blocks[name]) + match[4]

    return BLOCK.sub(fill, document)


def problems(document: str, blocks: Mapping[str, str]) -> list[str]:
    """What is wrong with the document's generated blocks: stale, missing, unknown or twice
    (empty when it is up to date)."""
    found = [(m["name"], m["body"]) for m in BLOCK.finditer(document)]
    names = [name for name, _ in found]
    issues = [f"missing block: {name}" for name in blocks if name not in names]
    issues += [f"unknown block: {name}" for name in names if name not in blocks]
    issues += [f"block twice: {name}" for name in sorted(set(names)) if names.count(name) > 1]
    issues += [
        f"stale block: {name}"
        for name, body in found
        if name in blocks and body != _body(blocks[name])
    ]
    return issues


def main(argv: list[str] | None = None) -> int:
    """`python -m ntd.docs [--check] [FILE]`: rewrite the generated tables of docs/domain.md
    from the code, or check that they are up to date."""
    import argparse

    parser = argparse.ArgumentParser(prog="scripts/docs", description=main.__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale tables")
    parser.add_argument("file", nargs="?", default=DOC, type=Path, help="default: docs/domain.md")
    args = parser.parse_args(argv)
    document = args.file.read_text(encoding="utf-8")
    blocks = generated()
    if args.check:
        issues = problems(document, blocks)
        for issue in issues:
            print(f"{args.file}: {issue}")
        if issues:
            print("the generated tables are stale: run scripts/docs")
        return 1 if issues else 0
    missing = [i for i in problems(document, blocks) if not i.startswith("stale block")]
    if missing:
        parser.error("; ".join(missing) + " (add or fix the markers by hand)")
    args.file.write_text(render(document, blocks), encoding="utf-8")
    print(f"wrote the generated tables of {args.file}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
