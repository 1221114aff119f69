"""The ledger side of `helm-guard rollback`: what earlier runs recorded, and the journal.

A confirmed rollback appends `rollback-started` (from/to versions, before/after bindings, the
steps so far) before it touches Cloudflare, `rollback-failed` when step 5 fails (best effort)
and `rollback` when it is recorded as done. A re-run reads them back (`ledger_state`) to
continue the same incident.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from helm_guard import state
from helm_guard.bindings import other_shops
from helm_guard.deploying import actor, safe_bindings
from helm_guard.errors import HelmGuardError
from helm_guard.incident import StepRecord, utc_now

if TYPE_CHECKING:
    from helm_guard.rollback.session import Rollback


@dataclass
class Pending:
    """A rollback the ledger says was started (confirmed) but not recorded as done."""

    incident: str
    from_version: str
    to_version: str
    started: str
    record: dict[str, Any]
    timeline: list[StepRecord] = field(default_factory=list)


def ledger_state(
    entries: Sequence[state.LedgerEntry],
) -> tuple[set[str], Pending | None, dict[str, Any] | None]:
    """(version ids helm-guard deployed or rolled back to, the pending rollback, the last
    completed rollback record)."""
    good: set[str] = set()
    pending: Pending | None = None
    done: dict[str, Any] | None = None
    for e in entries:
        r = e.record
        action = r.get("action")
        if action == "deploy" and isinstance(r.get("version_id"), str):
            good.add(r["version_id"])
            done = None
        elif action == "rollback-started":
            pending = Pending(
                str(r.get("incident")),
                str(r.get("from_version")),
                str(r.get("to_version")),
                str(r.get("started", state.format_time(e.at))),
                r,
                [StepRecord.from_json(x) for x in r.get("steps", []) if isinstance(x, dict)],
            )
        elif action == "rollback-failed" and pending is not None:
            if r.get("incident") == pending.incident and isinstance(r.get("step"), dict):
                pending.timeline.append(StepRecord.from_json(r["step"]))
        elif action == "rollback":
            if isinstance(r.get("to_version"), str):
                good.add(r["to_version"])
            if pending is not None and r.get("incident") == pending.incident:
                pending = None
            done = {**r, "at": state.format_time(e.at)}
    return good, pending, done


def journal(rb: Rollback) -> None:
    """Append `rollback-started` (once per incident and target) before touching Cloudflare."""
    p = rb.pending
    if (
        p is not None
        and p.to_version == rb.target_id
        and (p.from_version == rb.live_id or rb.live_id == rb.target_id)
    ):
        rb.incident_id = p.incident
        rb.started = p.started
        rb.before_rows = list(p.record.get("before_rows", []))
        rb.diff_lines = list(p.record.get("differences", []))
        rb.others = list(p.record.get("other_shops", []))
        rb.earlier = list(p.timeline)
        went = p.record.get("went_live")
        rb.live_since = went if isinstance(went, str) else None
        return
    now = utc_now()
    rb.incident_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{rb.slug}-{secrets.token_hex(3)}"
    rb.started = rb.steps.records[0].started
    rb.before_rows = rb.rows(rb.live_bindings)
    rb.diff_lines = [d.message for d in rb.live_diffs]
    rb.others = other_shops(rb.live_diffs, rb.slug)
    rb.earlier = []
    record = {
        "action": "rollback-started",
        "incident": rb.incident_id,
        "worker": rb.worker,
        "from_version": rb.live_id,
        "to_version": rb.target_id,
        "started": rb.started,
        "actor": actor(rb.repo),
        "halt": rb.halt_text,
        "before_bindings": safe_bindings(rb.live_bindings),
        "before_rows": rb.before_rows,
        "differences": rb.diff_lines,
        "other_shops": rb.others,
        "went_live": rb.live_since,
        "steps": [r.to_json() for r in rb.steps.records[:4]],
    }
    state.append_ledger(rb.repo, rb.remote, rb.slug, record)


def record_failure(rb: Rollback, exc: HelmGuardError) -> None:
    """Best effort: put the failed attempt into the ledger for the incident's timeline."""
    rec = rb.steps.records[-1]
    rec.notes.append(exc.message[:300])
    step = {**rec.to_json(), "status": "failed"}
    try:
        state.append_ledger(
            rb.repo,
            rb.remote,
            rb.slug,
            {"action": "rollback-failed", "incident": rb.incident_id, "step": step},
        )
    except HelmGuardError:
        pass
