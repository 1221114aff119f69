"""Step 1 of `helm-guard rollback`: halt deploys (the fleet, or only the shop).

The reason is "rollback of SLUG". An active halt that already covers it is kept, not
duplicated; a dry run only says what it would halt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helm_guard import state
from helm_guard.incident import Step

if TYPE_CHECKING:
    from helm_guard.rollback.session import Rollback


def halt_deploys(rb: Rollback, s: Step) -> None:
    """Halt (or find the halt that already covers) the shop; sets `rb.halt_text`."""
    reason = f"rollback of {rb.slug}"
    st = state.read_state(rb.repo, rb.remote, must_exist=False)
    now = state.utcnow()
    if rb.halt_scope == "fleet":
        existing = [h for h in st.active(now) if h.scope == "fleet"]
    else:
        existing = list(st.blocking(rb.slug, now))
    if existing:
        h = existing[0]
        rb.halt_text = (
            f"{h.target} halted by {h.by} since {state.format_time(h.since)}: {h.reason} ({h.id})"
        )
        s.say(f"already halted, kept: {rb.halt_text}", note=True)
        return
    what = "the fleet" if rb.halt_scope == "fleet" else f"shop {rb.slug}"
    if rb.dry_run:
        s.say(f"dry run: would halt {what} with reason {reason!r}")
        rb.halt_text = f"(dry run) {what} not halted"
        return
    shops = [] if rb.halt_scope == "fleet" else [rb.slug]
    res = state.halt(rb.repo, rb.remote, reason=reason, shops=shops)
    new = [h for h in res.state.halts if res.event and h.id in res.event.halt_ids]
    h = new[0]
    rb.halt_text = (
        f"{h.target} halted by {h.by} since {state.format_time(h.since)}: {h.reason} ({h.id})"
    )
    s.say(f"halted: {rb.halt_text}", note=True)
