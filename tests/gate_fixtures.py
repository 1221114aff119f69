"""Real git fleet repositories for the gate tests: a bare `origin`, a work clone, commits.

Every git process gets a pinned identity and pinned, increasing dates, and no user or system
configuration, so commit ids are reproducible and nothing on the machine leaks in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.fleets import EXAMPLE

IDENTITY = {
    "GIT_AUTHOR_NAME": "Gate Tester",
    "GIT_AUTHOR_EMAIL": "gate@example.invalid",
    "GIT_COMMITTER_NAME": "Gate Tester",
    "GIT_COMMITTER_EMAIL": "gate@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class Clock:
    """Commit dates one minute apart, from a fixed start."""

    def __init__(self) -> None:
        self.tick = 0

    def next(self) -> str:
        self.tick += 1
        return f"2026-01-01T00:{self.tick // 60:02d}:{self.tick % 60:02d}Z"


_CLOCK = Clock()


def git_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(IDENTITY)
    env.update(extra)
    return env


def git(cwd: Path, *args: str, date: str | None = None) -> str:
    stamp = date or _CLOCK.next()
    proc = subprocess.run(  # noqa: S603 - fixed executable, argument list
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False,
        env=git_env(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp),
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


class FleetRepo:
    """`origin` (bare) and `work` (a clone whose root holds helm-fleet.jsonc)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.origin = tmp / "origin.git"
        self.work = tmp / "work"

    @property
    def fleet(self) -> Path:
        return self.work / "helm-fleet.jsonc"

    def path(self, rel: str) -> Path:
        return self.work / rel

    def commit(self, message: str) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def push(self) -> None:
        git(self.work, "push", "-q", "origin", "HEAD:main")

    def head(self) -> str:
        return git(self.work, "rev-parse", "HEAD")

    def edit(self, rel: str, old: str, new: str) -> None:
        path = self.path(rel)
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {rel}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        path = self.path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def clone(self, name: str, *args: str) -> Path:
        dest = self.tmp / name
        git(self.tmp, "clone", "-q", *args, self.origin.as_uri(), str(dest))
        return dest


def make_repo(tmp: Path, source: Path = EXAMPLE) -> FleetRepo:
    """A bare origin with branch main holding a copy of `source` (one commit), and a clone."""
    repo = FleetRepo(tmp)
    git(tmp, "init", "-q", "--bare", "-b", "main", str(repo.origin))
    repo.work.mkdir()
    git(repo.work, "init", "-q", "-b", "main")
    git(repo.work, "config", "user.name", IDENTITY["GIT_AUTHOR_NAME"])
    git(repo.work, "config", "user.email", IDENTITY["GIT_AUTHOR_EMAIL"])
    git(repo.work, "remote", "add", "origin", repo.origin.as_uri())
    shutil.copytree(source, repo.work, dirs_exist_ok=True)
    repo.commit("initial fleet")
    repo.push()
    git(repo.work, "fetch", "-q", "origin")
    git(repo.work, "remote", "set-head", "origin", "main")
    return repo
