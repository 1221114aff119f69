"""Run git for helm-guard: the one module that starts git processes.

Everything that touches a git repository goes through here, and nothing in here knows about
halts or shops. It offers: run a git command, read a blob at a revision, snapshot remote refs
(`ls-remote` + fetch of the objects), list the history of a revision, build a commit from files
without a work tree, and a compare-and-swap writer (`cas_update`) that pushes one new commit to
one or more remote refs atomically, retrying with jittered backoff when another writer won.

Why the git binary and not gitpython's `Git.execute`: gitpython copies `os.environ` and can only
*add* variables, never remove them, so an inherited `GIT_INDEX_FILE` or `GIT_DIR` (pre-commit
hooks and `git rebase --exec` set them) would redirect every command. Here every git process
gets a scrubbed environment (`clean_env`, the same allow-list idea as pre-commit's
`no_git_env`), plus `LC_ALL=C` so messages are parseable. Importing this module is cheap (no
third-party imports), but only modules that need git import it; `check` never does.

Why over 400 lines: this is the one door to git, so every git operation helm-guard needs
lives here (one concern, many small functions).

The user's repository is never checked out, staged or moved: commits are built with a private
temporary index (`GIT_INDEX_FILE` in a temp dir) and `commit-tree`, fetched objects are not
given local refs (`--refmap=` stops the opportunistic remote-tracking update), and pushes use
explicit `<sha>:<ref>` refspecs without force (and `--no-verify`: the user's pre-push hooks
are for their code, not for this bookkeeping). Work tree, index and HEAD stay exactly as they
were; the only traces are new objects, the remote-tracking ref git itself moves after a push
(as `git fetch` would), and whatever refs a caller updates on purpose with `update_ref`.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

NETWORK_TIMEOUT = 60.0
"""Seconds before a fetch/push/ls-remote is abandoned (treated as an unreachable remote)."""

LOCAL_TIMEOUT = 30.0
"""Seconds before a local git command is abandoned."""

ZERO_SHA = "0" * 40

# Variables git reads that do not redirect which repository, index or work tree is used.
# Everything else starting with GIT_ is dropped (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE,
# GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES, GIT_COMMON_DIR, GIT_NAMESPACE,
# GIT_PREFIX, GIT_CONFIG_PARAMETERS, GIT_QUARANTINE_PATH, ...).
_KEEP_GIT_VARS = frozenset(
    {
        # pre-commit's no_git_env allow-list
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_CONFIG_COUNT",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        # which config files apply, and who the operator is
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        "GIT_TERMINAL_PROMPT",
        "GIT_SSH_VARIANT",
    }
)
_KEEP_GIT_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_", "GIT_TRACE")

# Push rejections that mean "another writer got there first": fetch again and retry.
_CONTENDED = (
    "non-fast-forward",
    "fetch first",
    "stale info",
    "atomic push failed",
    "cannot lock ref",
    "failed to lock",
    "failed to update ref",
    "incorrect old value",
    "already exists",
)

# stderr phrases that mean the remote itself could not be reached or read.
_UNREACHABLE = (
    "does not appear to be a git repository",
    "could not read from remote repository",
    "repository not found",
    "could not resolve host",
    "connection refused",
    "connection timed out",
    "unable to access",
    "authentication failed",
    "permission denied",
    "no such remote",
)


def clean_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """Return `base` (default `os.environ`) without GIT_* variables that redirect git."""
    env = base if base is not None else os.environ
    out = {
        k: v
        for k, v in env.items()
        if not k.startswith("GIT_") or k in _KEEP_GIT_VARS or k.startswith(_KEEP_GIT_PREFIXES)
    }
    out["LC_ALL"] = "C"
    out["LANGUAGE"] = "C"
    out.update(extra)
    return out


class GitError(Exception):
    """A git command failed; `detail` is git's own last words, fit to show an operator."""

    def __init__(self, command: Sequence[str], returncode: int, stderr: str) -> None:
        self.command = list(command)
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"`git {' '.join(self.command)}` failed ({returncode}): {self.detail}")

    @property
    def detail(self) -> str:
        """The most telling stderr line (the first `fatal:`/`error:` line, else the last)."""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        for ln in lines:
            if ln.lower().startswith(("fatal:", "error:")):
                return ln
        return lines[-1] if lines else "no message from git"


class RemoteError(GitError):
    """A command talking to a remote (ls-remote, fetch, push) failed."""


class RemoteUnreachable(RemoteError):
    """The remote could not be contacted or read (network, credentials, path, timeout)."""


class CasExhausted(Exception):
    """`cas_update` lost the race `attempts` times in a row."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"gave up after {attempts} attempts: other writers kept winning")
        self.attempts = attempts


class PushRefused(Exception):
    """The remote refused the push for a reason other than a lost race (hook, permissions)."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


def run(
    repo: str | Path,
    *args: str,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = LOCAL_TIMEOUT,
    check: bool = True,
    base_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git <args>` in `repo` with a scrubbed environment; raise GitError when it fails.

    The environment is `base_env` (default: this process's), scrubbed by `clean_env`, plus
    `env`. A caller that must not pass on anything of its own environment (the drill's
    sandbox: no real Cloudflare token may reach a hook) gives the complete one as `base_env`.
    """
    cmd = ["git", *args]
    try:
        proc = subprocess.run(  # noqa: S603 - fixed executable, argument list, no shell
            cmd,
            cwd=str(repo),
            input=input,
            capture_output=True,
            env={**clean_env(base_env), **(env or {})},
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise GitError(args, 127, f"fatal: cannot run git: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise RemoteUnreachable(
            args, 124, f"fatal: git did not finish within {timeout:.0f} seconds"
        ) from exc
    if check and proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc


def out(
    repo: str | Path,
    *args: str,
    input: bytes | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run git and return stdout as text without the trailing newline."""
    proc = run(repo, *args, input=input, env=env)
    return proc.stdout.decode("utf-8", "replace").rstrip("\n")


def _network(repo: str | Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """Run a command that talks to a remote; classify an unreachable remote."""
    proc = run(repo, *args, timeout=NETWORK_TIMEOUT, check=False)
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        low = stderr.lower()
        if proc.returncode == 128 and any(p in low for p in _UNREACHABLE):
            raise RemoteUnreachable(args, proc.returncode, stderr)
        if args[0] != "push":
            raise RemoteError(args, proc.returncode, stderr)
    return proc


def toplevel(path: str | Path) -> Path:
    """The work-tree root containing `path` (or the git dir of a bare repository)."""
    p = Path(path)
    if not p.is_dir():
        raise GitError(["rev-parse"], 128, f"fatal: not a directory: {p}")
    proc = run(p, "rev-parse", "--is-bare-repository", "--show-toplevel", check=False)
    if proc.returncode != 0:
        raise GitError(["rev-parse"], proc.returncode, proc.stderr.decode("utf-8", "replace"))
    lines = proc.stdout.decode().splitlines()
    if lines and lines[0] == "true":
        return Path(out(p, "rev-parse", "--absolute-git-dir"))
    return Path(lines[1])


def identity(repo: str | Path) -> str:
    """The operator's git author identity as `Name <email>` (what commits will carry)."""
    ident = out(repo, "var", "GIT_AUTHOR_IDENT")
    return re.sub(r"\s+\d+\s+[+-]\d{4}$", "", ident)


def rev_parse(repo: str | Path, rev: str) -> str | None:
    """The object name `rev` resolves to locally, or None."""
    proc = run(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", rev, check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode().strip() or None


def has_commit(repo: str | Path, sha: str) -> bool:
    """Whether the commit `sha` is in the local object database."""
    return run(repo, "cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0


def is_ancestor(repo: str | Path, ancestor: str, descendant: str) -> bool:
    """Whether `ancestor` is `descendant` or one of its ancestors (both must be local)."""
    proc = run(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False)
    if proc.returncode not in (0, 1):
        raise GitError(["merge-base"], proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.returncode == 0


def read_blob(repo: str | Path, rev: str, path: str) -> bytes | None:
    """The bytes of `path` in the tree of `rev`, or None when the path is absent."""
    proc = run(repo, "cat-file", "blob", f"{rev}:{path}", check=False)
    if proc.returncode != 0:
        if not has_commit(repo, rev):
            raise GitError(["cat-file"], proc.returncode, proc.stderr.decode("utf-8", "replace"))
        return None
    return proc.stdout


def update_ref(repo: str | Path, ref: str, new: str, old: str | None = None) -> bool:
    """Point local `ref` at `new` if it is still at `old` (None: must not exist)."""
    proc = run(repo, "update-ref", "-m", "helm-guard", ref, new, old or ZERO_SHA, check=False)
    return proc.returncode == 0


def ls_remote(repo: str | Path, remote: str, refs: Sequence[str]) -> dict[str, str | None]:
    """The remote's current object name for each of `refs` (None when the ref does not exist)."""
    proc = _network(repo, "ls-remote", "--end-of-options", remote, *refs)
    found: dict[str, str | None] = dict.fromkeys(refs)
    for line in proc.stdout.decode().splitlines():
        sha, _, name = line.partition("\t")
        if name in found:
            found[name] = sha
    return found


def fetch(repo: str | Path, remote: str, refs: Sequence[str]) -> None:
    """Fetch the objects of remote `refs` without creating or moving any local ref."""
    if refs:
        _network(
            repo,
            "-c",
            "fetch.writeCommitGraph=false",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--no-auto-gc",
            "--no-recurse-submodules",
            "--refmap=",
            "--end-of-options",
            remote,
            *refs,
        )


class Snapshot(NamedTuple):
    """Remote refs at one moment: ref -> object name (None = absent), objects present locally."""

    remote: str
    refs: dict[str, str | None]


def snapshot(repo: str | Path, remote: str, refs: Sequence[str]) -> Snapshot:
    """`ls-remote` the refs, then fetch whatever objects are not local yet."""
    for attempt in range(3):
        shas = ls_remote(repo, remote, refs)
        missing = [r for r, sha in shas.items() if sha and not has_commit(repo, sha)]
        try:
            fetch(repo, remote, missing)
        except RemoteUnreachable:
            raise
        except RemoteError as exc:  # a ref vanished between ls-remote and fetch: look again
            if attempt == 2 or "couldn't find remote ref" not in exc.stderr:
                raise
            continue
        if all(sha is None or has_commit(repo, sha) for sha in shas.values()):
            return Snapshot(remote, shas)
    raise RemoteError(["fetch"], 1, f"fatal: remote {remote} kept moving while being read")


class CommitInfo(NamedTuple):
    """One commit of a history listing."""

    sha: str
    author_name: str
    author_email: str
    author_date: str
    message: str


def history(repo: str | Path, rev: str, paths: Sequence[str] = ()) -> list[CommitInfo]:
    """Commits reachable from `rev` (optionally touching `paths`), oldest first."""
    fmt = "%H%x1f%an%x1f%ae%x1f%aI%x1f%B"
    raw = run(repo, "log", "-z", "--reverse", f"--format={fmt}", rev, "--", *paths).stdout
    commits = []
    for record in raw.decode("utf-8", "replace").split("\0"):
        if not record.strip():
            continue
        sha, name, email, date, message = record.split("\x1f", 4)
        commits.append(CommitInfo(sha.strip(), name, email, date, message))
    return commits


def commit_files(
    repo: str | Path, parent: str | None, files: Mapping[str, bytes | None], message: str
) -> str:
    """Create (not push) a commit: `parent`'s tree with `files` written (None = removed).

    Uses a private temporary index, so the user's index, work tree and HEAD are untouched.
    The author and committer are the operator's git identity, as for any commit they make.
    """
    with tempfile.TemporaryDirectory(prefix="helm-guard-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        if parent:
            run(repo, "read-tree", parent, env=env)
        lines = []
        for path, data in files.items():
            if data is None:
                lines.append(f"0 {ZERO_SHA}\t{path}\n")
                continue
            sha = out(repo, "hash-object", "-w", "--stdin", input=data)
            lines.append(f"100644 {sha}\t{path}\n")
        run(repo, "update-index", "--index-info", input="".join(lines).encode(), env=env)
        tree = out(repo, "write-tree", env=env)
    parents = ["-p", parent] if parent else []
    return out(repo, "commit-tree", tree, *parents, "-F", "-", input=message.encode())


class PushOutcome(NamedTuple):
    """What `push` achieved: ok, or rejected because of contention or for another reason."""

    ok: bool
    contended: bool
    reasons: tuple[str, ...] = ()


def push(repo: str | Path, remote: str, updates: Mapping[str, str]) -> PushOutcome:
    """Push commit `sha` to each remote `ref` of `updates`, all-or-nothing, never forced.

    Without force a push only fast-forwards, and the remote applies it only if each ref still
    has the value the client saw, so a lost race is reported instead of overwriting anything.
    """
    specs = [f"{sha}:{ref}" for ref, sha in updates.items()]
    proc = _network(
        repo,
        "push",
        "--porcelain",
        "--atomic",
        "--no-verify",
        "--no-signed",
        "--recurse-submodules=no",
        "--end-of-options",
        remote,
        *specs,
    )
    if proc.returncode == 0:
        return PushOutcome(ok=True, contended=False)
    reasons = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] == "!":
            reasons.append(f"{parts[1].split(':', 1)[-1]}: {parts[2]}")
    stderr = proc.stderr.decode("utf-8", "replace")
    text = " ".join(reasons).lower() + " " + stderr.lower()
    contended = any(p in text for p in _CONTENDED) and "hook declined" not in text
    if not reasons:
        reasons = [GitError(["push"], proc.returncode, stderr).detail]
    return PushOutcome(ok=False, contended=contended, reasons=tuple(reasons))


class Change(NamedTuple):
    """Files to write on top of the current tip, and the commit message."""

    files: Mapping[str, bytes | None]
    message: str


@dataclass
class CasResult:
    """Outcome of `cas_update`: the tip after it, whether we wrote it, and the effort."""

    commit: str | None
    changed: bool
    attempts: int
    snapshot: Snapshot
    retries: int = 0
    waited: float = 0.0
    losses: list[str] = field(default_factory=list)


def backoff(attempt: int, base: float = 0.05, cap: float = 1.0) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0.0, min(cap, base * (2**attempt)))  # noqa: S311 - not crypto


def cas_update(
    repo: str | Path,
    remote: str,
    refs: Sequence[str],
    build: Callable[[Snapshot], Change | None],
    *,
    max_attempts: int = 10,
    base_delay: float = 0.05,
    max_delay: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> CasResult:
    """Compare-and-swap one new commit onto remote `refs` (the first is the parent's source).

    Each attempt: snapshot the remote refs, call `build(snapshot)` for the change (None: nothing
    to do; it may raise to abort), commit it on top of `refs[0]`, push it to every ref in one
    atomic, non-forced push. A push that lost a race is retried after a jittered backoff, up to
    `max_attempts`; then CasExhausted. Other refusals raise PushRefused. If a push reported as
    failed did land (connection lost after the remote applied it), the next snapshot finds it
    and it counts as done, so a retry never records the same change twice.
    """
    waited = 0.0
    losses: list[str] = []
    last_pushed: str | None = None
    for attempt in range(1, max_attempts + 1):
        snap = snapshot(repo, remote, refs)
        tip = snap.refs[refs[0]]
        if last_pushed and tip and is_ancestor(repo, last_pushed, tip):
            return CasResult(last_pushed, True, attempt - 1, snap, attempt - 2, waited, losses)
        change = build(snap)
        if change is None:
            return CasResult(snap.refs[refs[0]], False, attempt, snap, attempt - 1, waited, losses)
        commit = commit_files(repo, tip, change.files, change.message)
        last_pushed = commit
        outcome = push(repo, remote, dict.fromkeys(refs, commit))
        if outcome.ok:
            return CasResult(commit, True, attempt, snap, attempt - 1, waited, losses)
        if not outcome.contended:
            raise PushRefused(outcome.reasons)
        losses.append("; ".join(outcome.reasons))
        if attempt < max_attempts:
            delay = backoff(attempt - 1, base_delay, max_delay)
            waited += delay
            sleep(delay)
    raise CasExhausted(max_attempts)


# --- the deploy gate: refs, diffs, trees and trailers between two commits -----------------
# (appended for `helm-guard gate`; read-only, never touches the work tree, index or refs)

_REF_RE = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/@{}^~+-]{1,255}\Z")
_TRAILER_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}\Z")


def valid_ref(ref: str) -> bool:
    """Whether `ref` looks like a ref or object name git may be handed (no options, no ranges)."""
    return bool(_REF_RE.match(ref))


def resolve_commit(repo: str | Path, ref: str) -> str | None:
    """The commit `ref` names (tags peeled), or None when it is unknown here."""
    if not valid_ref(ref):
        return None
    return rev_parse(repo, f"{ref}^{{commit}}")


def is_shallow(repo: str | Path) -> bool:
    """Whether the clone is shallow (`actions/checkout` with the default `fetch-depth: 1`)."""
    return out(repo, "rev-parse", "--is-shallow-repository") == "true"


def merge_base(repo: str | Path, a: str, b: str) -> str | None:
    """The best common ancestor of two commits, or None (unrelated or cut off by shallowness)."""
    proc = run(repo, "merge-base", "--end-of-options", a, b, check=False)
    sha = proc.stdout.decode().strip()
    return sha if proc.returncode == 0 and sha else None


def symbolic_target(repo: str | Path, ref: str) -> str | None:
    """What symbolic `ref` points to (`refs/remotes/origin/HEAD` -> `refs/remotes/origin/main`)."""
    if not valid_ref(ref):
        return None
    proc = run(repo, "symbolic-ref", "--quiet", ref, check=False)
    target = proc.stdout.decode().strip()
    return target if proc.returncode == 0 and target else None


def changed_paths(repo: str | Path, base: str, head: str) -> list[str]:
    """Paths (from the repository root) that differ between the trees of two commits.

    Renames are not detected: a moved file is its old path (deleted) and its new path (added).
    """
    raw = run(
        repo,
        "diff-tree",
        "-r",
        "-z",
        "--no-commit-id",
        "--name-only",
        "--no-renames",
        "--end-of-options",
        base,
        head,
    ).stdout
    return sorted(p for p in raw.decode("utf-8", "surrogateescape").split("\0") if p)


def tree_paths(repo: str | Path, rev: str) -> list[str]:
    """Every file path in the tree of `rev`, from the repository root."""
    raw = run(
        repo, "ls-tree", "-r", "-z", "--name-only", "--full-tree", "--end-of-options", rev
    ).stdout
    return [p for p in raw.decode("utf-8", "surrogateescape").split("\0") if p]


def read_blobs(repo: str | Path, rev: str, paths: Sequence[str]) -> dict[str, bytes | None]:
    """The bytes of each path in the tree of `rev` (None when absent), in one git process."""
    found: dict[str, bytes | None] = dict.fromkeys(paths)
    batch = [p for p in paths if "\n" not in p and "\r" not in p]
    for p in paths:
        if p not in batch:
            found[p] = read_blob(repo, rev, p)
    if not batch:
        return found
    request = "".join(f"{rev}:{p}\n" for p in batch).encode("utf-8", "surrogateescape")
    data = run(repo, "cat-file", "--batch", input=request).stdout
    pos = 0
    for p in batch:
        eol = data.index(b"\n", pos)
        header = data[pos:eol].split(b" ")
        pos = eol + 1
        if len(header) == 3 and header[1] in (b"blob", b"tree", b"commit", b"tag"):
            size = int(header[2])
            found[p] = data[pos : pos + size] if header[1] == b"blob" else None
            pos += size + 1
        else:  # "<name> missing" / "ambiguous"
            found[p] = None
    return found


def trailer_values(repo: str | Path, base: str, head: str, key: str) -> list[tuple[str, str]]:
    """(commit, value) for every `key:` trailer of the commits in `base..head`.

    Trailers are parsed by git itself (`%(trailers)`, the parser of
    `git interpret-trailers --parse`): only the message's last paragraph counts, the key is
    matched case-insensitively, folded values are unfolded.
    """
    if not _TRAILER_KEY_RE.match(key):
        raise ValueError(f"invalid trailer key {key!r}")
    fmt = f"%H%x1f%(trailers:key={key},valueonly,unfold)"
    raw = run(repo, "log", "-z", f"--format={fmt}", "--end-of-options", f"{base}..{head}").stdout
    values: list[tuple[str, str]] = []
    for record in raw.decode("utf-8", "replace").split("\0"):
        sha, sep, rest = record.partition("\x1f")
        if not sep:
            continue
        values.extend((sha.strip(), v.strip()) for v in rest.splitlines() if v.strip())
    return values


def dirty_paths(repo: str | Path, under: str = ".") -> list[str]:
    """Tracked paths under `under` whose work-tree or index state differs from HEAD.

    Untracked files are not listed (scanning for them costs ~0.2 s on 10,000 folders); callers
    that care about particular files compare them with `tree_paths` instead.
    """
    raw = run(repo, "status", "--porcelain", "-z", "--untracked-files=no", "--no-renames",
              "--", under).stdout
    return [entry[3:] for entry in raw.decode("utf-8", "surrogateescape").split("\0")
            if len(entry) > 3]
