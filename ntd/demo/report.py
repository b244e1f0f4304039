"""What the demo prints once the marketplace is built: how much it built and how fast, the
projections caught up, what the policies did, two dashboards, the audit trail of one case worth
reading, and the commands to try next on the ids it just made."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping

import click

from domain.values import Actor
from ntd.bootstrap import Ntd
from ntd.cli.render_audit import audit_excerpt
from ntd.cli.render_dashboard import dashboard_view
from ntd.demo.cast import ACCOUNT_MANAGERS, ADMIN, AGENTS, AUDITOR, SUPERVISOR
from ntd.demo.simulation import DemoResult, Simulation


def policy_summary(acted: Mapping[str, int]) -> str:
    """What the policies did, in words, e.g. `412 strikes (23 taken back), 31 sellers suspended`."""
    parts = [
        f"{acted.get('RecordStrike', 0):,} strikes ({acted.get('RemoveStrike', 0):,} taken back)",
        f"{acted.get('SuspendSeller', 0):,} sellers suspended "
        f"({acted.get('LiftSellerSuspension', 0):,} lifted)",
        f"{acted.get('AdmitToTrustedLane', 0)} admissions to and "
        f"{acted.get('RemoveFromTrustedLane', 0)} removals from the trusted lane",
        f"{acted.get('WarnNotifier', 0)} misuse warnings",
        f"{acted.get('SuspendNotifier', 0)} notifier suspensions",
    ]
    return ", ".join(parts)


def print_report(ntd: Ntd, sim: Simulation, result: DemoResult) -> None:
    """Catch the projections up, then show dashboards, an audit excerpt and what to try."""
    from projections import AuditQuery

    out = click.echo
    out(
        f"\nBuilt in {result.seconds:.1f} s: {len(sim.brands)} notifiers, "
        f"{len(sim.sellers)} sellers, {result.notices:,} notices "
        f"({result.refused} more refused while their notifier was suspended), "
        f"{result.cases:,} cases, {result.events:,} events "
        f"({result.events / max(result.seconds, 1e-6):,.0f} events/s)"
    )
    if ntd.settings.feed != "log":
        out(
            "The projections are fed from Kafka (NTD_FEED=kafka): the figures below are as far "
            "as the consumers have got."
        )
    caught = time.perf_counter()
    behind = result.events - ntd.read_store.position()
    with click.progressbar(
        length=behind, label="catching up projections", file=sys.stderr, show_pos=True, width=30
    ) as bar:
        ntd.catch_up(lambda done, _total: bar.update(max(0, done - bar.pos)))
    out(
        f"Projections caught up in {time.perf_counter() - caught:.1f} s "
        f"(data in {ntd.settings.data_dir})"
    )
    if ntd.policies is not None:
        sim.acted.update(ntd.policies.acted)
    if ntd.settings.feed == "log":
        out(f"Policies: {policy_summary(sim.acted)}")
    store, rules, now = ntd.read_store, ntd.app.rules, sim.end
    out("\n== Busiest brand ==")
    out(dashboard_view(store.dashboard(result.busiest, now, rules)))
    if result.trusted:
        out("\n== A trusted-lane brand ==")
        out(dashboard_view(store.dashboard(result.trusted, now, rules)))
    if result.showcase:
        sc = sim.cases[result.showcase]
        out(f"\n== Audit trail of case {result.showcase} ({' → '.join(sc.path)}) ==")
        for line in audit_excerpt(store.audit_query(AuditQuery(case_id=result.showcase))):
            out(line)
    busiest = next(n for n, i in result.brands.items() if i == result.busiest)
    case_id = result.showcase
    agent, auditor, admin = AGENTS[0], AUDITOR, ADMIN
    out("\nTry next (every command names who gives it; `export NTD_ACTOR=...` saves typing):")
    tries = [(f"ntd access list --as {admin}", "who holds which role")]
    seller: Actor | None = None
    if case_id:
        sc = sim.cases[case_id]
        seller = sim.seller_users.get((sc.seller.marketplace, sc.seller.ref))
        tries += [
            (f"ntd case show {case_id} --as {agent}", "state, deadlines, reasons and timeline"),
            (
                f"ntd case history {case_id} --version 1 --as {agent}",
                "the case as filed, before its takedown",
            ),
            (
                f"ntd case take-down {case_id} --facts x --as {seller or 'seller:someone'}",
                "refused: a seller may not take down cases",
            ),
        ]
    brand_user = next(
        f"notifier_user:{b.users[0]}" for b in sim.brands if b.notifier_id == result.busiest
    )
    tries += [
        (f"ntd dashboard --brand {result.busiest} --as {agent}", f"{busiest}'s figures"),
        (f"ntd queue --as {agent}", "the agents' work queue, nearest deadline first"),
        (
            f"ntd queue --brand {result.busiest} --as {brand_user}",
            f"what awaits {busiest}'s answer",
        ),
    ]
    if case_id:
        tries.append(
            (f"ntd audit query --case {case_id} --format table --as {auditor}", "its audit rows")
        )
    tries += [
        (f"ntd audit verify --as {auditor}", "re-check every hash chain"),
        (
            f"ntd deadlines run --dry-run --as {admin}",
            "deadlines due now (drop --dry-run to fire them)",
        ),
    ]
    width = max(len(cmd) for cmd, _ in tries)
    for cmd, why in tries:
        out(f"  {cmd.ljust(width)}  # {why}")
    cast = [
        ("brand", Actor.parse(brand_user), f"{busiest}'s notifier admin"),
        ("agent", agent, "decides cases from the queue"),
        ("account manager", ACCOUNT_MANAGERS[0], "a brand's contact at the marketplace"),
        ("supervisor", SUPERVISOR, "rights and standing"),
        ("auditor", auditor, "trail search, export, verify"),
        ("admin", admin, "access and tokens"),
    ]
    if case_id and seller:
        cast.insert(1, ("seller", seller, "the showcase case's seller"))
    print_portal_tokens(ntd, cast)


def print_portal_tokens(ntd: Ntd, cast: list[tuple[str, Actor, str]]) -> None:
    """A portal token for one principal of each role, printed once (ntd keeps only digests):
    `ntd serve` on this data dir, then paste one into the login page."""
    out = click.echo
    out("\nThe portal: `ntd serve`, then open http://127.0.0.1:8080/login with a token:")
    for what, who, why in cast:
        issued = ntd.app.issue_token(who, ADMIN, label=f"demo {what}")
        out(f"  {what:<16} {str(who):<32} {issued.text}  # {why}")
    out("  (ntd tokens list shows them without their secrets; ntd tokens revoke ends one)")
