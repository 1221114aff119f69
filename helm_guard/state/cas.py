"""The compare-and-swap writer behind every change of the state branch (halts and ledger).

Each write snapshots the remote refs (`ls-remote`, fetch objects), builds the new state on top
of the tip, and pushes it with one atomic, non-forced push to both the branch and the anchor
ref. A push that lost a race (non-fast-forward, ref lock) is retried from a fresh snapshot
after full-jitter exponential backoff (50 ms doubling, capped at 1 s), at most 10 attempts. A
non-forced push can only fast-forward, so no writer can drop another's commit. Every write is
one commit by the operator's git identity; nothing is ever checked out (commits are built with
a temporary index and pushed by object name, see `gitio`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helm_guard import gitio
from helm_guard.errors import UsageError
from helm_guard.state.errors import StateWriteFailed
from helm_guard.state.layout import ANCHOR_REF, BRANCH_README, README_FILE, STATE_BRANCH, STATE_REFS
from helm_guard.state.refs import remember

MAX_ATTEMPTS = 10


def identity(repo: Path) -> str:
    """The operator's git identity (`Name <email>`), which signs every state commit."""
    try:
        return gitio.identity(repo)
    except gitio.GitError as exc:
        raise UsageError(
            f"git does not know who you are ({exc.detail}); halts are signed with your identity",
            hint='git config --global user.name "Your Name" && '
            "git config --global user.email you@example.com",
        ) from None


def cas_write(
    repo: Path,
    remote: str,
    build: Callable[[gitio.Snapshot], gitio.Change | None],
    max_attempts: int,
    what: str,
) -> gitio.CasResult:
    """Run the CAS loop and turn git failures into operator-facing errors."""
    try:
        result = gitio.cas_update(repo, remote, STATE_REFS, build, max_attempts=max_attempts)
    except gitio.CasExhausted as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: {exc}",
            hint="run the same command again; `helm-guard status` shows what is recorded",
        ) from None
    except gitio.PushRefused as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: {remote} refused the push ({exc})",
            hint=f"operators need fast-forward push rights to {STATE_BRANCH} and {ANCHOR_REF}; "
            "check branch protection / rulesets and hooks for them",
        ) from None
    except gitio.RemoteError as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: could not reach {remote!r}: {exc.detail}",
            hint=f"check that `git ls-remote {remote}` works (network, credentials), then retry",
        ) from None
    except gitio.GitError as exc:
        raise StateWriteFailed(
            f"{what} was not recorded: git failed in this clone: {exc.detail}",
            hint="run `git fsck` here, or retry from a fresh clone",
        ) from None
    remember(repo, remote, result.commit)
    return result


def init_files(parent: str | None) -> dict[str, bytes | None]:
    """Files a brand-new state branch gets besides halt.json."""
    return {} if parent is not None else {README_FILE: BRANCH_README.encode()}
