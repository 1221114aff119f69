"""Reading the halt state from the remote, and deciding whether a deploy may run.

Reads for enforcement fail closed: `read_state(repo, remote, must_exist=...)` always asks the
remote (never the checkout) and raises `StateUnreadable` (a `Blocked`, exit 1) with a `kind`
and a repair hint when: `remote-unreachable`; `state-missing` (no state and the caller said it
must exist); `branch-deleted` (the branch is gone but the anchor, or this clone, saw it);
`branch-rewritten` (the branch no longer contains the anchor commit); `malformed` (missing or
invalid `halt.json`, duplicate keys, unknown fields); `unknown-schema-version`.

Rollback is always allowed: `check_deploy_allowed(state, shop, "rollback")` says allowed and
lists the halts in force, so the caller can record "rollback during halt" with `append_ledger`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from helm_guard import gitio
from helm_guard.state.document import load_halt_document, parse_event_trailer
from helm_guard.state.errors import git_failed
from helm_guard.state.layout import HALT_FILE, SCHEMA_VERSION
from helm_guard.state.model import HaltState
from helm_guard.state.refs import remember, resolve, snapshot
from helm_guard.state.results import Decision, HistoryEntry

ACTIONS = ("deploy", "rollback")


def read_state(repo: str | Path, remote: str = "origin", *, must_exist: bool) -> HaltState:
    """Fetch and validate the halt state from `remote` (never from the checkout).

    `must_exist`: the caller knows this fleet has been initialised (e.g. its fleet
    configuration says the state is required); then a missing state blocks instead of meaning
    "nothing halted". Raises StateUnreadable on any doubt.
    """
    repo = Path(repo)
    try:
        snap = snapshot(repo, remote)
        commit, notes = resolve(repo, snap, must_exist=must_exist)
        if commit is None:
            return HaltState(remote=remote, initialised=False, notes=tuple(notes))
        halts, last = load_halt_document(repo, remote, commit)
    except gitio.GitError as exc:
        raise git_failed(exc) from None
    remember(repo, remote, commit)
    return HaltState(remote, True, commit, halts, last, SCHEMA_VERSION, tuple(notes))


def history_at(repo: str | Path, commit: str) -> list[HistoryEntry]:
    """Every change of halt.json reachable from the local `commit`, oldest first."""
    entries = []
    for c in gitio.history(repo, commit, [HALT_FILE]):
        subject = c.message.splitlines()[0] if c.message.strip() else ""
        entries.append(
            HistoryEntry(
                commit=c.sha,
                author=f"{c.author_name} <{c.author_email}>",
                date=c.author_date,
                subject=subject,
                event=parse_event_trailer(c.message),
            )
        )
    return entries


def read_history(repo: str | Path, remote: str = "origin") -> list[HistoryEntry]:
    """The halt history on `remote`, oldest first (empty when never initialised)."""
    repo = Path(repo)
    snap = snapshot(repo, remote)
    commit, _ = resolve(repo, snap, must_exist=False)
    return history_at(repo, commit) if commit else []


def check_deploy_allowed(
    state: HaltState, shop: str, action: str = "deploy", *, now: datetime | None = None
) -> Decision:
    """May `action` ("deploy" or "rollback") run on `shop` under `state`?

    Deploys are refused while an active fleet or shop halt covers the shop. Rollbacks are
    always allowed; `Decision.during_halt` tells the caller to record that in the ledger.
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
    halts = state.blocking(shop, now)
    allowed = action == "rollback" or not halts
    return Decision(allowed, action, shop, halts, state.commit)


def enforce(
    repo: str | Path,
    remote: str,
    shop: str,
    *,
    must_exist: bool,
    action: str = "deploy",
    now: datetime | None = None,
) -> Decision:
    """Read the state now and raise Blocked unless `action` may run on `shop`."""
    decision = check_deploy_allowed(
        read_state(repo, remote, must_exist=must_exist), shop, action, now=now
    )
    decision.raise_if_blocked()
    return decision
