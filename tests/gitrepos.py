"""Real-git helpers for tests: a bare origin in tmp, clones, pinned identities, no gpg.

`isolate_git(monkeypatch, tmp_path)` points git at a private global config (no signing,
`main` as default branch, no identity) and drops inherited GIT_* variables, so tests behave the
same on a developer machine, in CI and inside a git hook. Each clone gets its own operator
identity in its local config, which is what helm-guard records as the author.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_FLEET = REPO_ROOT / "examples" / "fleet"

PINNED = {
    "GIT_AUTHOR_NAME": "Fixture Author",
    "GIT_AUTHOR_EMAIL": "fixture@example.invalid",
    "GIT_COMMITTER_NAME": "Fixture Author",
    "GIT_COMMITTER_EMAIL": "fixture@example.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
}


def git(
    cwd: Path | str,
    *args: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> str:
    """Run git in `cwd` and return stripped stdout; fail the test with stderr on error."""
    proc = subprocess.run(  # noqa: S603 - test helper, fixed executable
        ["git", *args],
        cwd=str(cwd),
        env={**os.environ, **(env or {})},
        input=input,
        capture_output=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr.decode()}"
        )
    return proc.stdout.decode().strip()


def isolate_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A private global git config and no inherited GIT_* variables for this test."""
    for key in list(os.environ):
        if key.startswith("GIT_"):
            monkeypatch.delenv(key)
    config = tmp_path / "gitconfig"
    config.write_text(
        "[init]\n\tdefaultBranch = main\n"
        "[commit]\n\tgpgSign = false\n"
        "[tag]\n\tgpgSign = false\n"
        "[advice]\n\tdetachedHead = false\n"
        "[gc]\n\tauto = 0\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def make_origin(tmp_path: Path, *, with_fleet: bool = True) -> Path:
    """A bare `origin.git` whose `main` holds the example fleet (or one README)."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", "--quiet", str(origin), str(seed))
    if with_fleet:
        shutil.copytree(EXAMPLE_FLEET, seed, dirs_exist_ok=True)
    else:
        (seed / "README.md").write_text("fleet\n")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "seed the fleet", env=PINNED)
    git(seed, "push", "--quiet", "origin", "HEAD:refs/heads/main")
    shutil.rmtree(seed)
    return origin


def clone(origin: Path, dest: Path, *, name: str, email: str) -> Path:
    """Clone `origin` to `dest` with `name <email>` as this operator's git identity."""
    git(dest.parent, "clone", "--quiet", str(origin), str(dest))
    git(dest, "config", "user.name", name)
    git(dest, "config", "user.email", email)
    return dest


def commit_files(repo: Path, files: dict[str, str], message: str) -> str:
    """Write `files` in the work tree of `repo`, commit them with the pinned identity."""
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(repo, "add", rel)
    git(repo, "commit", "--quiet", "-m", message, env=PINNED)
    return git(repo, "rev-parse", "HEAD")


def push_to_state(repo: Path, files: dict[str, str], message: str = "edit by hand") -> str:
    """Commit `files` on top of the remote state branch from a throw-away clone (by hand)."""
    work = repo.parent / f"tamper-{os.urandom(3).hex()}"
    origin = git(repo, "remote", "get-url", "origin")
    git(repo.parent, "clone", "--quiet", "--branch", "helm-guard/state", origin, str(work))
    sha = commit_files(work, files, message)
    git(work, "push", "--quiet", "origin", "HEAD:refs/heads/helm-guard/state")
    shutil.rmtree(work)
    return sha


def head(repo: Path) -> str:
    """HEAD's commit."""
    return git(repo, "rev-parse", "HEAD")


def porcelain(repo: Path) -> str:
    """`git status --porcelain --ignored`: empty when work tree and index are untouched."""
    return git(repo, "status", "--porcelain", "--ignored")


def remote_refs(origin: Path) -> dict[str, str]:
    """ref -> sha of every ref in a bare repository."""
    out = git(origin, "for-each-ref", "--format=%(refname) %(objectname)")
    return {ref: sha for ref, sha in (line.split(" ", 1) for line in out.splitlines())}


@dataclass
class Fleet:
    """A bare origin and two operators' clones of it."""

    origin: Path
    a: Path  # Ana's clone
    b: Path  # Bo's clone
    tmp: Path

    def fresh_clone(self, name: str = "ci") -> Path:
        """A new clone, like a CI runner's (no local helm-guard refs)."""
        dest = self.tmp / f"{name}-{os.urandom(3).hex()}"
        return clone(self.origin, dest, name=name, email=f"{name}@example.invalid")


def make_fleet(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Fleet:
    """Isolated git, an origin with the example fleet, and clones for Ana and Bo."""
    isolate_git(monkeypatch, tmp_path)
    origin = make_origin(tmp_path)
    a = clone(origin, tmp_path / "ana", name="Ana", email="ana@example.invalid")
    b = clone(origin, tmp_path / "bo", name="Bo", email="bo@example.invalid")
    return Fleet(origin, a, b, tmp_path)
