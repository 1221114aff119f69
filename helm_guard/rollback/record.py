"""Step 7 of `helm-guard rollback`: record the incident, then print the next steps.

The record is a `rollback` ledger event and `docs/incidents/<date>-<slug>.md` in the fleet
repository (`helm_guard.incident`). The halt stays in force.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helm_guard import state
from helm_guard.deploying import actor
from helm_guard.incident import Incident, Step, StepRecord, fmt_time, utc_now, write_incident

if TYPE_CHECKING:
    from helm_guard.rollback.session import Rollback


def record(rb: Rollback, s: Step) -> None:
    """Write the incident file (with the whole timeline) and the `rollback` ledger event."""
    current = rb.steps.records[-1]
    timeline = [
        *rb.earlier,
        *rb.steps.records[:-1],
        StepRecord(
            current.n,
            current.total,
            current.title,
            current.started,
            0.0,
            "ok",
            ["incident file and ledger event written"],
        ),
    ]
    owner = rb.fleet.shops.get(rb.slug, {}).get("owner")
    incident = Incident(
        id=rb.incident_id,
        shop=rb.slug,
        worker=rb.worker,
        started=rb.started,
        actor=actor(rb.repo),
        from_version=str(
            rb.pending.from_version
            if rb.pending is not None and rb.pending.incident == rb.incident_id
            else rb.live_id
        ),
        to_version=str(rb.target_id),
        before=rb.before_rows,
        after=rb.after_rows,
        differences=rb.diff_lines,
        other_shops=rb.others,
        halt=rb.halt_text,
        timeline=timeline,
        forced_secrets=rb.forced,
        owner=owner if isinstance(owner, str) else None,
        went_live=rb.live_since,
        rolled_back=next((r.started for r in reversed(timeline) if r.n == 5), None),
    )
    path = write_incident(rb.repo, incident)
    rel = path.relative_to(rb.repo).as_posix()
    s.say(f"incident file: {rel} (commit it to the fleet repository)", note=True)
    appended = state.append_ledger(
        rb.repo,
        rb.remote,
        rb.slug,
        {
            "action": "rollback",
            "incident": rb.incident_id,
            "worker": rb.worker,
            "from_version": incident.from_version,
            "to_version": rb.target_id,
            "actor": incident.actor,
            "halt": rb.halt_text,
            "other_shops": rb.others,
            "forced_secrets": rb.forced,
            "incident_file": rel,
            "went_live": rb.live_since,
            "recorded": fmt_time(utc_now()),
        },
    )
    s.say(f"ledger {rb.slug} #{appended.entry.seq} ({appended.commit[:12]})")


def next_steps(rb: Rollback, *, done: bool) -> None:
    """The closing lines: what the operator does next (the halt stays until then)."""
    shops = [rb.slug, *getattr(rb, "others", [])]
    lines = ["", "next steps:"]
    if done:
        lines.append(
            f"  1. audit both shops' data ({' and '.join(shops)}): did the wrong shop's data "
            "get written? `helm-guard data-audit --incident <the incident file>`, then "
            "`helm-guard audit-chain --shop <slug>`; restore with `helm-guard restore`"
        )
        lines.append("  2. find how the binding got swapped; fix it in git; tighten checks")
    else:
        lines.append("  1. find what is wrong with the shop (this was not a binding swap)")
    lines.append(
        "  then: `helm-guard resume --reason TEXT` (or `helm-guard resume --shop " + rb.slug
        + " --reason TEXT` for a shop halt) once the cause is "
        "fixed; until then the halt stays in force"
    )
    for line in lines:
        rb.steps.say(line)
