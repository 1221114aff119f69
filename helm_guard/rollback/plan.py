"""Steps 3 and 4 of `helm-guard rollback`: show the plan, then get it confirmed.

The plan puts the live and the target bindings side by side, naming the shop that owns each
resource and the other shop(s) the live version touches. Confirming means typing the shop slug
(not y/n), or `--yes` for automation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from helm_guard.bindings import other_shops, side_by_side
from helm_guard.errors import Blocked
from helm_guard.incident import Step

if TYPE_CHECKING:
    from helm_guard.rollback.session import Rollback


def show_plan(rb: Rollback, s: Step) -> None:
    """Step 3: live vs target bindings (or, when continuing, what the bad version had)."""
    if rb.pending is not None and rb.pending.to_version == rb.target_id:
        s.say(f"continuing incident {rb.pending.incident} (started {rb.pending.started})")
        if rb.live_id == rb.target_id:
            s.say(
                f"{rb.target_id} is already live; the bad version "
                f"{rb.pending.from_version} had (as recorded then):"
            )
            for row in rb.pending.record.get("before_rows", []):
                s.say(f"  {row}")
            return
    for line in side_by_side(rb.live_bindings, rb.target_bindings, rb.index):
        s.say(line)
    if rb.live_diffs:
        s.say("the live version differs from the registry:")
        for d in rb.live_diffs:
            s.say(f"  - {d.message}")
    others = other_shops(rb.live_diffs, rb.slug)
    if others:
        s.say(
            f"OTHER SHOP(S) whose resources the live version touches: {', '.join(others)}",
            note=True,
        )


def confirm(rb: Rollback, s: Step) -> None:
    """Step 4 (not for a dry run): `--yes`, or the operator types the shop slug."""
    if rb.live_id == rb.target_id:
        s.skip("the target is already live; nothing left to confirm")
        s.say("the target is already live; nothing to confirm")
        return
    if rb.yes:
        s.say("confirmed by --yes", note=True)
        return
    if not rb.ask(s, f"roll {rb.worker} back from {rb.live_id} to {rb.target_id}?"):
        raise Blocked(
            "not confirmed: nothing was rolled back",
            hint="the halt stays in force; run the command again and type the slug",
        )
    s.say(f"confirmed by typing '{rb.slug}'", note=True)
