"""Halt state and deploy ledger, kept in the fleet repository's git remote.

Where it lives
    Branch `helm-guard/state` on the remote (default `origin`): an orphan branch holding
    `halt.json` (schema: `schemas/helm-state.schema.json`), `ledger/<slug>.jsonl` (one
    deploy-ledger file per shop) and a README. Every halt, resume and ledger record is one
    commit by the operator's git identity, so the branch history is the audit log; each commit
    message ends with a one-line `Helm-Guard-Event: {json}` trailer. Nothing is ever checked
    out: commits are built with a temporary index and pushed by object name (see `gitio`).

Writes: compare-and-swap
    Each write snapshots the remote refs (`ls-remote`, fetch objects), builds the new state on
    top of the tip, and pushes it with one atomic, non-forced push to both the branch and the
    anchor ref (below). A push that lost a race (non-fast-forward, ref lock) is retried from a
    fresh snapshot after full-jitter exponential backoff (50 ms doubling, capped at 1 s), at most
    10 attempts. A non-forced push can only fast-forward, so no writer can drop another's commit:
    two halts at once both end in the state; a halt racing a resume either lands before the
    resume's first read (and is lifted, visibly, by it) or survives it, because `resume` only
    lifts halts it saw on its first read.

Reads for enforcement: fail closed
    `read_state(repo, remote, must_exist=...)` always asks the remote (never the checkout) and
    raises `StateUnreadable` (a `Blocked`, exit 1) with a `kind` and a repair hint when:
    `remote-unreachable`; `state-missing` (no state and the caller said it must exist);
    `branch-deleted` (the branch is gone but the anchor, or this clone, saw it);
    `branch-rewritten` (the branch no longer contains the anchor commit); `malformed` (missing or
    invalid `halt.json`, duplicate keys, unknown fields); `unknown-schema-version`.

A brand-new fleet
    No branch and no anchor on the remote means "never initialised": with `must_exist=False`
    `read_state` returns an empty, uninitialised state and deploys proceed. The first write of
    any kind creates the branch and the anchor together: the first `helm-guard halt`, the first
    recorded deploy (`append_ledger`), or `helm-guard resume` (which on an uninitialised fleet
    records an `init` event). No set-up step is needed before the first halt. Callers compute
    `must_exist` from the fleet file: a `"state"` section there means "required" (the gate and
    `status` do this; `fleet_settings` reads it leniently), and `state.remote` picks the remote.

Deleting the state branch cannot lift a halt
    Every write also fast-forwards `refs/helm-guard/state-anchor`, a ref outside `refs/heads`
    (not listed or deletable as a branch in hosting UIs, not touched by branch-cleanup bots).
    Branch missing + anchor present is `branch-deleted` (blocks; repair = push the anchor back to
    the branch); anchor not an ancestor of the branch is `branch-rewritten` (blocks). Each clone
    also remembers the last state it saw in `refs/helm-guard/seen/<remote>`, so even if both
    remote refs vanish (e.g. a `git push --mirror` from a clone without them) that clone blocks
    and can restore. Once a fleet file has a `"state"` section, callers pass `must_exist=True`,
    which closes the remaining gap (both refs gone, read from a fresh CI clone). Writers refuse
    to write on top of a deleted or rewritten state. The branch name is fixed
    (`helm-guard/state`); a different `state.branch` in the fleet file is not honoured.

Expiry
    `--expires 2h` (m/h/d) sets `expires` on the halt. From that moment the halt no longer
    blocks; `status` still lists it as expired until a `resume` of its scope clears it, and its
    events stay in the history. Times are UTC, taken from the writer's clock.

Scope and rollback
    A halt has scope `fleet` or `shop` (+ `shop`). A shop is blocked by active fleet halts and
    its own shop halts. A fleet resume lifts only fleet halts; shop halts remain. Rollback is
    always allowed: `check_deploy_allowed(state, shop, "rollback")` says allowed and lists the
    halts in force, so the caller can record "rollback during halt" with `append_ledger`.

Modules
    `layout` branch, refs and file names; `errors` StateUnreadable / StateWriteFailed;
    `clock` UTC times and durations; `validate` slugs and JSON shapes; `model` halts, events,
    the halt state, ledger lines; `results` deploy decisions, history entries, write outcomes;
    `document` halt.json and commit messages; `refs` which state commit to trust; `read`
    reading and enforcing; `cas` the compare-and-swap writer; `write` halt and resume;
    `ledger` the deploy ledger; `settings` repo, remote and fleet-file settings for commands.
    Everything callers use is re-exported here: `from helm_guard import state`.
"""

from __future__ import annotations

from helm_guard.errors import Blocked, UsageError
from helm_guard.state.cas import MAX_ATTEMPTS
from helm_guard.state.clock import format_time, format_when, human_delta, parse_duration, utcnow
from helm_guard.state.document import (
    parse_event_trailer,
    parse_halt_document,
    render_halt_document,
)
from helm_guard.state.errors import StateUnreadable, StateWriteFailed
from helm_guard.state.layout import (
    ANCHOR_REF,
    EVENT_TRAILER,
    HALT_FILE,
    LEDGER_DIR,
    LEDGER_VERSION,
    README_FILE,
    SCHEMA_VERSION,
    SEEN_REF_PREFIX,
    STATE_BRANCH,
    STATE_REF,
    STATE_REFS,
)
from helm_guard.state.ledger import append_ledger, ledger_path, parse_ledger, read_ledger
from helm_guard.state.model import Event, Halt, HaltState, LedgerEntry, describe_halt
from helm_guard.state.read import (
    ACTIONS,
    check_deploy_allowed,
    enforce,
    history_at,
    read_history,
    read_state,
)
from helm_guard.state.refs import seen_ref
from helm_guard.state.results import Decision, HistoryEntry, LedgerAppend, WriteResult
from helm_guard.state.settings import (
    FleetSettings,
    add_location_arguments,
    fleet_settings,
    pick_remote,
    resolve_repo,
)
from helm_guard.state.validate import SLUG_RE, check_slug
from helm_guard.state.write import halt, resume

__all__ = [
    "ACTIONS",
    "ANCHOR_REF",
    "EVENT_TRAILER",
    "HALT_FILE",
    "LEDGER_DIR",
    "LEDGER_VERSION",
    "MAX_ATTEMPTS",
    "README_FILE",
    "SCHEMA_VERSION",
    "SEEN_REF_PREFIX",
    "SLUG_RE",
    "STATE_BRANCH",
    "STATE_REF",
    "STATE_REFS",
    "Blocked",
    "Decision",
    "Event",
    "FleetSettings",
    "Halt",
    "HaltState",
    "HistoryEntry",
    "LedgerAppend",
    "LedgerEntry",
    "StateUnreadable",
    "StateWriteFailed",
    "UsageError",
    "WriteResult",
    "add_location_arguments",
    "append_ledger",
    "check_deploy_allowed",
    "check_slug",
    "describe_halt",
    "enforce",
    "fleet_settings",
    "format_time",
    "format_when",
    "halt",
    "history_at",
    "human_delta",
    "ledger_path",
    "parse_duration",
    "parse_event_trailer",
    "parse_halt_document",
    "parse_ledger",
    "pick_remote",
    "read_history",
    "read_ledger",
    "read_state",
    "render_halt_document",
    "resolve_repo",
    "resume",
    "seen_ref",
    "utcnow",
]
