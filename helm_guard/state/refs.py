"""Which state commit to trust: the remote's branch and anchor refs, and this clone's seen-ref.

Deleting the state branch cannot lift a halt. Every write also fast-forwards
`refs/helm-guard/state-anchor`, a ref outside `refs/heads` (not listed or deletable as a branch
in hosting UIs, not touched by branch-cleanup bots). Branch missing + anchor present is
`branch-deleted` (blocks; repair = push the anchor back to the branch); anchor not an ancestor
of the branch is `branch-rewritten` (blocks). Each clone also remembers the last state it saw
in `refs/helm-guard/seen/<remote>`, so even if both remote refs vanish (e.g. a
`git push --mirror` from a clone without them) that clone blocks and can restore.

No branch and no anchor on the remote means "never initialised" (an empty state) unless the
caller says the state must exist (`state-missing`).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from helm_guard import gitio
from helm_guard.state.errors import StateUnreadable, unreachable
from helm_guard.state.layout import ANCHOR_REF, SEEN_REF_PREFIX, STATE_BRANCH, STATE_REF, STATE_REFS


def seen_ref(remote: str) -> str:
    """The local ref remembering the last state this clone saw from `remote`."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", remote) and not remote.endswith(".lock"):
        return SEEN_REF_PREFIX + remote
    return SEEN_REF_PREFIX + "url-" + hashlib.sha256(remote.encode()).hexdigest()[:16]


def resolve(repo: Path, snap: gitio.Snapshot, *, must_exist: bool) -> tuple[str | None, list[str]]:
    """The state commit to trust (None: never initialised), or StateUnreadable."""
    remote = snap.remote
    branch, anchor = snap.refs[STATE_REF], snap.refs[ANCHOR_REF]
    seen = gitio.rev_parse(repo, seen_ref(remote))
    notes: list[str] = []
    if branch is None:
        if anchor is not None:
            raise StateUnreadable(
                StateUnreadable.BRANCH_DELETED,
                f"branch {STATE_BRANCH} is missing on {remote}, but {ANCHOR_REF} "
                f"({anchor[:12]}) shows it existed; deleting it does not lift a halt",
                hint=f"restore it: `git fetch {remote} {ANCHOR_REF} && "
                f"git push {remote} FETCH_HEAD:{STATE_REF}`, then `helm-guard status`",
            )
        if seen is not None:
            raise StateUnreadable(
                StateUnreadable.BRANCH_DELETED,
                f"branch {STATE_BRANCH} and {ANCHOR_REF} are both missing on {remote}, but "
                f"this clone saw the state at {seen[:12]}; deleting them does not lift a halt",
                hint=f"restore them: `git push {remote} {seen_ref(remote)}:{STATE_REF} "
                f"{seen_ref(remote)}:{ANCHOR_REF}`, then `helm-guard status`",
            )
        if must_exist:
            raise StateUnreadable(
                StateUnreadable.STATE_MISSING,
                f"this fleet requires halt state, but {remote} has neither branch "
                f"{STATE_BRANCH} nor {ANCHOR_REF}",
                hint="if it was deleted, push it back from any clone that still has it "
                f"(`git push {remote} {remote}/{STATE_BRANCH}:{STATE_REF}` there, or "
                f"`{seen_ref(remote)}`); if this fleet never had halt state, create it with "
                "`helm-guard resume --reason 'initialise halt state'`",
            )
        return None, notes
    if anchor is None:
        notes.append(f"{ANCHOR_REF} is missing on {remote}; the next halt/resume restores it")
    elif not gitio.is_ancestor(repo, anchor, branch):
        raise StateUnreadable(
            StateUnreadable.BRANCH_REWRITTEN,
            f"branch {STATE_BRANCH} on {remote} ({branch[:12]}) no longer contains "
            f"{ANCHOR_REF} ({anchor[:12]}): it was force-pushed or recreated, which can drop "
            "a halt",
            hint=f"put the anchored history back: `git fetch {remote} {ANCHOR_REF} && "
            f"git push --force {remote} FETCH_HEAD:{STATE_REF}` (see first what the rewrite "
            f"added with `git log {branch}`); only if the rewrite was intended, an admin moves "
            f"the anchor instead: `git push --force {remote} {branch}:{ANCHOR_REF}`",
            commit=branch,
        )
    return branch, notes


def remember(repo: Path, remote: str, commit: str | None) -> None:
    """Best effort: move this clone's seen-ref forward to `commit`."""
    if not commit:
        return
    ref = seen_ref(remote)
    try:
        current = gitio.rev_parse(repo, ref)
        if current == commit:
            return
        if current is None or gitio.is_ancestor(repo, current, commit):
            gitio.update_ref(repo, ref, commit, current)
    except gitio.GitError:
        pass


def snapshot(repo: Path, remote: str) -> gitio.Snapshot:
    """The remote's state refs (objects fetched); `remote-unreachable` if it cannot be read."""
    try:
        return gitio.snapshot(repo, remote, STATE_REFS)
    except gitio.RemoteError as exc:
        raise unreachable(remote, exc) from None
