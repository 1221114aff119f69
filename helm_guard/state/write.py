"""Recording halts and resumes on the state branch.

Existing halts are kept: two halts at once both end in the state. A halt racing a resume either
lands before the resume's first read (and is lifted, visibly, by it) or survives it, because
`resume` only lifts halts it saw on its first read. A fleet resume lifts only fleet halts; shop
halts remain. Writers refuse to write on top of a deleted or rewritten state. The first write
of any kind creates the branch and the anchor together: the first `helm-guard halt`, the first
recorded deploy (`append_ledger`), or `helm-guard resume` (which on an uninitialised fleet
records an `init` event). No set-up step is needed before the first halt.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from helm_guard import gitio
from helm_guard.errors import UsageError
from helm_guard.state.cas import MAX_ATTEMPTS, cas_write, identity, init_files
from helm_guard.state.clock import format_time, utcnow
from helm_guard.state.document import commit_message, load_halt_document, render_halt_document
from helm_guard.state.layout import HALT_FILE, SCHEMA_VERSION
from helm_guard.state.model import Event, Halt, HaltState
from helm_guard.state.refs import resolve
from helm_guard.state.results import WriteResult
from helm_guard.state.validate import check_slug


def _new_id(now: datetime) -> str:
    """A new halt id: `h-<UTC time>-<6 hex digits>`."""
    return f"h-{now.strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def halt(
    repo: str | Path,
    remote: str = "origin",
    *,
    reason: str,
    shops: Sequence[str] = (),
    expires: timedelta | None = None,
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> WriteResult:
    """Record a halt of the fleet (no `shops`) or of each shop in `shops`.

    Existing halts are kept (two operators halting at once are both recorded). Creates the
    state branch and anchor on a fleet that has none.
    """
    repo = Path(repo)
    reason = reason.strip()
    if not reason:
        raise UsageError("--reason must not be empty", hint="say why, e.g. --reason 'binding swap'")
    targets = list(dict.fromkeys(check_slug(s) for s in shops))
    by = identity(repo)
    now = now or utcnow()
    until = now + expires if expires else None
    scopes: list[str | None] = [*targets] or [None]
    new = tuple(
        Halt(_new_id(now), "shop" if shop else "fleet", shop, reason, by, now, until)
        for shop in scopes
    )
    event = Event(
        "halt",
        now,
        by,
        reason,
        "shop" if targets else "fleet",
        tuple(targets),
        tuple(h.id for h in new),
        (),
        until,
    )
    outcome: dict[str, Any] = {}

    def build(snap: gitio.Snapshot) -> gitio.Change:
        parent, notes = resolve(repo, snap, must_exist=False)
        halts = load_halt_document(repo, remote, parent)[0] if parent else ()
        after = halts + new
        outcome["state"] = HaltState(remote, True, None, after, event, SCHEMA_VERSION, tuple(notes))
        files = {HALT_FILE: render_halt_document(after, event), **init_files(parent)}
        expiry = f"\nExpires: {format_time(until)}" if until else ""
        return gitio.Change(
            files,
            commit_message(f"halt {event.target}: {reason}", f"Reason: {reason}{expiry}", event),
        )

    res = cas_write(repo, remote, build, max_attempts, "the halt")
    state = outcome["state"]
    state = HaltState(remote, True, res.commit, state.halts, event, SCHEMA_VERSION, state.notes)
    return WriteResult(True, res.commit, event, state, (), res.attempts, res.retries, res.waited)


def resume(
    repo: str | Path,
    remote: str = "origin",
    *,
    reason: str,
    shops: Sequence[str] = (),
    now: datetime | None = None,
    max_attempts: int = MAX_ATTEMPTS,
) -> WriteResult:
    """Lift the fleet halts (no `shops`) or the halts of each shop in `shops`.

    Only halts present at the first read are lifted: a halt recorded concurrently survives.
    Shop halts survive a fleet resume and the fleet halt survives a shop resume. Expired halts
    in scope are cleared too. On a fleet without state this records an `init` event.
    """
    repo = Path(repo)
    reason = reason.strip()
    if not reason:
        raise UsageError("--reason must not be empty", hint="say why, e.g. --reason 'fixed'")
    targets = list(dict.fromkeys(check_slug(s) for s in shops))
    by = identity(repo)
    now = now or utcnow()
    scope = "shop" if targets else "fleet"
    first_seen: set[str] | None = None
    outcome: dict[str, Any] = {}

    def in_scope(h: Halt) -> bool:
        return h.scope == "fleet" if scope == "fleet" else h.shop in targets

    def build(snap: gitio.Snapshot) -> gitio.Change | None:
        nonlocal first_seen
        parent, notes = resolve(repo, snap, must_exist=False)
        if parent is None:
            event = Event("init", now, by, reason)
            outcome.update(state=HaltState(remote, True, None, (), event), event=event, lifted=())
            return gitio.Change(
                {HALT_FILE: render_halt_document((), event), **init_files(None)},
                commit_message("initialise helm-guard halt state", f"Reason: {reason}", event),
            )
        halts, last = load_halt_document(repo, remote, parent)
        if first_seen is None:
            first_seen = {h.id for h in halts if in_scope(h)}
        lifted = tuple(h for h in halts if in_scope(h) and h.id in first_seen)
        remaining = tuple(h for h in halts if h not in lifted)
        if not lifted:
            outcome.update(
                state=HaltState(remote, True, parent, halts, last, SCHEMA_VERSION, tuple(notes)),
                event=None,
                lifted=(),
            )
            return None
        event = Event(
            "resume", now, by, reason, scope, tuple(targets), (), tuple(h.id for h in lifted)
        )
        outcome.update(
            state=HaltState(remote, True, None, remaining, event, SCHEMA_VERSION, tuple(notes)),
            event=event,
            lifted=lifted,
        )
        body = (
            "Reason: "
            + reason
            + "\nLifted: "
            + ", ".join(f"{h.id} ({h.target}, {h.by})" for h in lifted)
        )
        return gitio.Change(
            {HALT_FILE: render_halt_document(remaining, event)},
            commit_message(f"resume {event.target}: {reason}", body, event),
        )

    res = cas_write(repo, remote, build, max_attempts, "the resume")
    st: HaltState = outcome["state"]
    if res.changed:
        st = HaltState(remote, True, res.commit, st.halts, st.last_event, SCHEMA_VERSION, st.notes)
    return WriteResult(
        res.changed,
        res.commit,
        outcome["event"],
        st,
        outcome["lifted"],
        res.attempts,
        res.retries,
        res.waited,
    )
