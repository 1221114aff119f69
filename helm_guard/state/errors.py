"""Errors of the halt state, and the StateUnreadable cases shared by readers and writers.

Reads for enforcement fail closed: `StateUnreadable` (a `Blocked`, exit 1) carries a `kind`
and a repair hint. `StateWriteFailed` means nothing was written.
"""

from __future__ import annotations

from helm_guard import gitio
from helm_guard.errors import Blocked
from helm_guard.state.layout import HALT_FILE, STATE_BRANCH


class StateUnreadable(Blocked):
    """The halt state could not be read with certainty, so deploys are blocked."""

    REMOTE_UNREACHABLE = "remote-unreachable"
    STATE_MISSING = "state-missing"
    BRANCH_DELETED = "branch-deleted"
    BRANCH_REWRITTEN = "branch-rewritten"
    MALFORMED = "malformed"
    UNKNOWN_SCHEMA_VERSION = "unknown-schema-version"
    GIT_ERROR = "git-error"

    def __init__(self, kind: str, message: str, *, hint: str, commit: str | None = None) -> None:
        super().__init__(f"halt state unreadable ({kind}): {message}", hint=hint)
        self.kind = kind
        self.detail = message
        self.commit = commit


class StateWriteFailed(Blocked):
    """A halt, resume or ledger record could not be recorded; nothing was written."""


def malformed_hint(remote: str, path: str = HALT_FILE) -> str:
    """How to repair a bad `path` (halt.json or a ledger file) on the state branch."""
    first = (
        "deploys stay blocked until it is fixed"
        if path == HALT_FILE
        else "this shop's ledger cannot be used until it is fixed"
    )
    return (
        f"{first}. See the bad change with "
        f"`git fetch {remote} && git log -p {remote}/{STATE_BRANCH} -- {path}`, then commit a "
        f"corrected {path} on top (e.g. `git worktree add ../helm-state {remote}/{STATE_BRANCH}`,"
        f" fix or `git revert` there, `git push {remote} HEAD:{STATE_BRANCH}`); "
        "never delete or force-push the branch"
    )


def git_failed(exc: gitio.GitError) -> StateUnreadable:
    """`git-error`: git failed in this clone."""
    return StateUnreadable(
        StateUnreadable.GIT_ERROR,
        f"git failed in this clone: {exc.detail}",
        hint="run `git fsck` here, or retry from a fresh clone",
    )


def unreachable(remote: str, exc: gitio.GitError) -> StateUnreadable:
    """`remote-unreachable`: the remote could not be read."""
    return StateUnreadable(
        StateUnreadable.REMOTE_UNREACHABLE,
        f"could not read remote {remote!r}: {exc.detail}",
        hint=f"check that `git ls-remote {remote}` works from here (network, credentials, "
        "remote name); deploys stay blocked until the halt state can be read",
    )
