"""The drill's sandbox: throw-away clones of the fleet repository, their own bare remotes, and a
local Cloudflare API emulator. Nothing in here can reach the real remote or real Cloudflare.

Layout (one temporary directory per drill run):

    <root>/seed-work   the fleet as it is committed (a clone of its repository when the fleet
                       file sits at a repository's top level, else a copy in a fresh repo),
                       plus a sandbox `.pre-commit-config.yaml`; its `origin` is removed
    <root>/seed.git    a bare clone of seed-work: the template every workspace starts from
    <root>/<name>/origin.git, <root>/<name>/clone
                       one workspace: its own bare remote and a clone with the pre-commit hook
    <root>/home        HOME / XDG dirs / PRE_COMMIT_HOME of every child process

Child processes get `child_env()`: the caller's environment without anything that could
redirect git (GIT_DIR, GIT_INDEX_FILE, ...), reach Cloudflare (every CLOUDFLARE_*/CF_* variable,
in particular a real CLOUDFLARE_API_TOKEN), or write into a real GitHub job (GITHUB_*); plus
`CLOUDFLARE_API_BASE_URL` = the emulator, a dummy token, a fixed git identity and a PYTHONPATH
that makes `python -m helm_guard` run this very helm-guard. Every git command of the sandbox goes
through `helm_guard.gitio` (the one git door) with `child_env()` as its whole environment
(`gitio.run(base_env=...)`: gitio scrubs it again, nothing of this process's own is added).

Why over 400 lines: the sandbox's clone, bare remote, emulator and wrangler set-up belong
together; each part is short.
"""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from helm_guard import gitio
from helm_guard.emulator import DEFAULT_ACCOUNT_ID, CloudflareEmulator
from helm_guard.errors import UsageError

if TYPE_CHECKING:
    from helm_guard.drill import Record

DUMMY_TOKEN = "helm-guard-drill-dummy-token"
DRILL_NAME = "helm-guard drill"
DRILL_EMAIL = "drill@helm-guard.invalid"
COMMAND_TIMEOUT = 300.0
BANNER = (
    "helm-guard drill: everything runs in a throw-away sandbox: temporary clones of the fleet "
    "repository with their own local bare remote, and a local Cloudflare API emulator on "
    "127.0.0.1. The real git remote and real Cloudflare are never touched (no real token is "
    "passed on)."
)

_KEEP_GIT = frozenset({"GIT_EXEC_PATH", "GIT_SSL_CAINFO"})
_DROP_PREFIXES = ("CLOUDFLARE_", "CF_", "GITHUB_", "ACTIONS_", "PRE_COMMIT", "WRANGLER_")
_DROP_NAMES = frozenset({"CI", "HELM_GUARD_WRANGLER"})
PACKAGE_PARENT = Path(__file__).resolve().parents[2]
HOOK_CONFIG = """\
# Written by helm-guard drill: the fleet's pre-commit hook, as a fleet repository sets it up.
repos:
  - repo: local
    hooks:
      - id: helm-guard
        name: helm-guard check (whole fleet)
        entry: {entry}
        language: system
        pass_filenames: false
        always_run: true
"""


class CommandRun(NamedTuple):
    """One child process the drill ran: what, where, how it ended, what it printed."""

    label: str
    argv: tuple[str, ...]
    exit_code: int
    seconds: float
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def find_pre_commit() -> list[str] | None:
    """The real `pre-commit` executable (next to this Python first), else None."""
    beside = Path(sys.executable).with_name("pre-commit")
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("pre-commit")
    return [found] if found else None


WRANGLER_HINT = (
    "wrangler 4.86.0 not found (the live-swap-incident scenario runs the real wrangler): run "
    "`npm i -D wrangler@4.86.0` in the fleet repository, or pass --wrangler PATH (or set "
    "HELM_GUARD_WRANGLER)"
)


def find_wrangler(explicit: str | None, fleet_root: Path) -> Path | None:
    """wrangler for the incident scenario: `--wrangler`, `$HELM_GUARD_WRANGLER`, the fleet's
    node_modules, else the tests/node install of this helm-guard checkout; None if absent."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    elif os.environ.get("HELM_GUARD_WRANGLER"):
        candidates.append(Path(os.environ["HELM_GUARD_WRANGLER"]))
    else:
        candidates.append(fleet_root / "node_modules" / ".bin" / "wrangler")
        # helm-guard's own checkout: where this package lives (editable install), else the
        # current directory (a CI job that pip-installed the checkout it stands in)
        for checkout in (PACKAGE_PARENT, Path.cwd()):
            candidates.append(checkout / "tests" / "node" / "node_modules" / ".bin" / "wrangler")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c.resolve()
    return None


def _git_toplevel(path: Path) -> Path | None:
    try:
        return gitio.toplevel(path).resolve()
    except gitio.GitError:
        return None


class Sandbox:
    """One drill run's temporary world: the seed repository, workspaces, the emulator."""

    def __init__(self, fleet_file: Path, *, wrangler: Path | None,
                 keep: bool = False, copy_fleet: bool = False) -> None:
        self.fleet_file = fleet_file.resolve()
        self.source_root = self.fleet_file.parent
        self.wrangler = wrangler
        self.keep = keep
        self.copy_fleet = copy_fleet
        self.root = Path(tempfile.mkdtemp(prefix="helm-drill-"))
        self.home = self.root / "home"
        self.secrets: set[str] = set()
        self.pre_commit = find_pre_commit()
        self.emulator = CloudflareEmulator(_account_of(self.fleet_file), hold_seconds=5.0)
        self._workspaces: list[Workspace] = []
        self._seed: Path | None = None
        self.mode = ""
        self.fleet_name = self.fleet_file.name

    def fleet_args(self) -> list[str]:
        """`--fleet NAME` when the fleet file is not found by name from the repository root."""
        return [] if self.fleet_name == "helm-fleet.jsonc" else ["--fleet", self.fleet_name]

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Sandbox:
        for d in ("home", "home/.config", "home/.cache", "home/pre-commit"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        self.emulator.start()
        _seed_zones(self.emulator, self.fleet_file)
        self._seed = self._make_seed()
        return self

    def close(self) -> None:
        self.emulator.stop()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ environment
    def child_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env: dict[str, str] = {}
        for k, v in os.environ.items():
            if k.startswith("GIT_") and k not in _KEEP_GIT:
                continue
            if k.startswith(_DROP_PREFIXES) or k in _DROP_NAMES:
                continue
            env[k] = v
        home = self.home
        env.update({
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "PRE_COMMIT_HOME": str(home / "pre-commit"),
            "PYTHONUSERBASE": os.environ.get("PYTHONUSERBASE", site.getuserbase()),
            "PYTHONPATH": os.pathsep.join(
                [str(PACKAGE_PARENT), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": DRILL_NAME,
            "GIT_AUTHOR_EMAIL": DRILL_EMAIL,
            "GIT_COMMITTER_NAME": DRILL_NAME,
            "GIT_COMMITTER_EMAIL": DRILL_EMAIL,
            "CLOUDFLARE_API_TOKEN": DUMMY_TOKEN,
            "CLOUDFLARE_ACCOUNT_ID": self.emulator.account_id,
            "WRANGLER_SEND_METRICS": "false",
            "WRANGLER_SEND_ERROR_REPORTS": "false",
            "NO_COLOR": "1",
        })
        if self.emulator.base_url:
            env["CLOUDFLARE_API_BASE_URL"] = self.emulator.base_url
        if self.wrangler is not None:
            env["HELM_GUARD_WRANGLER"] = str(self.wrangler)
        env.update(extra or {})
        return env

    # ------------------------------------------------------------------ repositories
    def _make_seed(self) -> Path:
        work = self.root / "seed-work"
        top = None if self.copy_fleet else _git_toplevel(self.source_root)
        env = self.child_env()
        if top is not None and top == self.source_root.resolve():
            self.mode = "clone of the fleet repository (committed HEAD)"
            _git(env, self.root, "clone", "--quiet", "--no-hardlinks", "--single-branch",
                 str(top), str(work))
            _git(env, work, "remote", "remove", "origin")
        else:
            self.mode = "copy of the fleet directory in a fresh repository"
            shutil.copytree(self.source_root, work,
                            ignore=shutil.ignore_patterns(".git", "node_modules"))
            _git(env, self.root, "init", "--quiet", "-b", "main", str(work))
        entry = " ".join([sys.executable, "-m", "helm_guard", "check", *self.fleet_args()])
        (work / ".pre-commit-config.yaml").write_text(HOOK_CONFIG.format(entry=entry),
                                                      encoding="utf-8")
        _git(env, work, "add", "--all")
        _git(env, work, "commit", "--quiet", "--no-verify", "--allow-empty",
             "-m", "drill: sandbox set-up")
        seed = self.root / "seed.git"
        _git(env, self.root, "clone", "--quiet", "--bare", str(work), str(seed))
        return seed

    def workspace(self, name: str) -> Workspace:
        """A new workspace: a bare remote cloned from the seed, and a clone of it with the
        pre-commit hook installed."""
        assert self._seed is not None, "Sandbox.start() first"
        base = self.root / re.sub(r"[^A-Za-z0-9_.-]", "-", name)
        base.mkdir()
        origin, clone = base / "origin.git", base / "clone"
        env = self.child_env()
        _git(env, base, "clone", "--quiet", "--bare", str(self._seed), str(origin))
        _git(env, base, "clone", "--quiet", str(origin), str(clone))
        if self.pre_commit is not None:
            _run([*self.pre_commit, "install"], clone, env)
        ws = Workspace(self, base, origin, clone)
        self._workspaces.append(ws)
        return ws


class Workspace:
    """One clone with its own bare remote; every command it runs is recorded."""

    def __init__(self, sandbox: Sandbox, base: Path, origin: Path, clone: Path) -> None:
        self.sandbox = sandbox
        self.base_dir = base
        self.origin = origin
        self.path = clone
        self.base_sha = self.git_out("rev-parse", "HEAD")
        # where the current scenario starts (the seed, or the scenario's own set-up commit):
        # the gate checks start_sha..HEAD and a refused commit leaves HEAD here
        self.start_sha = self.base_sha
        self.record: Record | None = None
        self.summary_file = base / "step-summary.md"
        self.output_file = base / "github-output.txt"
        self.fleet_file = clone / sandbox.fleet_name

    def fleet_args(self) -> list[str]:
        return self.sandbox.fleet_args()

    # ------------------------------------------------------------------ running things
    def run(self, label: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> CommandRun:
        """Run one command (argument list) in the clone, capture and record it."""
        full_env = self.sandbox.child_env(env)
        start = time.perf_counter()
        proc = _run(argv, cwd or self.path, full_env, check=False)
        result = CommandRun(label, tuple(argv), proc.returncode,
                            time.perf_counter() - start, proc.stdout, proc.stderr)
        if self.record is not None:
            self.record.command(result)
        return result

    def helm(self, label: str, *args: str, env: Mapping[str, str] | None = None) -> CommandRun:
        """`python -m helm_guard ARGS` as CI and operators run it, with this workspace's
        GitHub output files."""
        extra = {"GITHUB_STEP_SUMMARY": str(self.summary_file),
                 "GITHUB_OUTPUT": str(self.output_file)}
        extra.update(env or {})
        return self.run(label, [sys.executable, "-m", "helm_guard", *args], env=extra)

    def git(self, label: str, *args: str) -> CommandRun:
        """Run git in the clone (through `gitio`, the one git door) and record it."""
        start = time.perf_counter()
        proc = _git_proc(self.sandbox.child_env(), self.path, *args)
        result = CommandRun(label, ("git", *args), proc.returncode,
                            time.perf_counter() - start,
                            proc.stdout.decode("utf-8", "replace"),
                            proc.stderr.decode("utf-8", "replace"))
        if self.record is not None:
            self.record.command(result)
        return result

    def git_out(self, *args: str) -> str:
        proc = _git(self.sandbox.child_env(), self.path, *args)
        return proc.stdout.decode("utf-8", "replace").strip()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Back to the seed commit: work tree, index, HEAD, output files."""
        env = self.sandbox.child_env()
        _git(env, self.path, "reset", "--quiet", "--hard", self.base_sha)
        _git(env, self.path, "clean", "-q", "-fdx")
        self.start_sha = self.base_sha
        self.reset_outputs()

    def reset_outputs(self) -> None:
        """Forget what earlier commands wrote for the GitHub job."""
        for f in (self.summary_file, self.output_file):
            f.unlink(missing_ok=True)

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        (self.path / rel).write_text(text, encoding="utf-8")

    def commit(self, label: str, message: str, *, verify: bool = True,
               amend: bool = False) -> CommandRun:
        """Stage everything and commit; with `verify` the pre-commit hook runs."""
        _git(self.sandbox.child_env(), self.path, "add", "--all")
        args = ["commit", "-m", message]
        if not verify:
            args.append("--no-verify")
        if amend:
            args.append("--amend")
        return self.git(label, *args)

    def head(self) -> str:
        return self.git_out("rev-parse", "HEAD")

    def github_files(self) -> str:
        """What helm-guard wrote for the GitHub job (step summary + outputs)."""
        parts = []
        for f in (self.summary_file, self.output_file):
            if f.is_file():
                parts.append(f.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)


def _seed_zones(emulator: CloudflareEmulator, fleet_file: Path) -> None:
    """The zones of the fleet's registered hosts (deploy reads their routes back)."""
    try:
        from helm_guard.drill.rehearse import seed_zones
        from helm_guard.fleet import load_fleet

        seed_zones(emulator, load_fleet(fleet_file))
    except Exception:  # noqa: BLE001 - the drill itself reports a broken fleet via the scenarios
        return


def _account_of(fleet_file: Path) -> str:
    try:
        from helm_guard.fleet import load_fleet

        account = load_fleet(fleet_file).account_id
    except Exception:  # the drill itself reports a broken fleet via the scenarios
        return DEFAULT_ACCOUNT_ID
    if account and re.fullmatch(r"[0-9a-f]{32}", account):
        return account
    return DEFAULT_ACCOUNT_ID


def _run(argv: Sequence[str], cwd: Path, env: Mapping[str, str], *,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(  # noqa: S603 - argument list, no shell
            list(argv), cwd=cwd, env=dict(env), capture_output=True, text=True,
            encoding="utf-8", errors="replace", stdin=subprocess.DEVNULL,
            timeout=COMMAND_TIMEOUT, check=False,
        )
    except FileNotFoundError as exc:
        if check:
            raise UsageError(f"drill: cannot run {argv[0]}: {exc}") from exc
        return subprocess.CompletedProcess(list(argv), 127, "", f"cannot run {argv[0]}: {exc}")
    except subprocess.TimeoutExpired:
        if check:
            raise UsageError(f"drill: {argv[0]} {argv[1:2]} timed out") from None
        return subprocess.CompletedProcess(list(argv), 124, "",
                                           f"timed out after {COMMAND_TIMEOUT:.0f} s")
    if check and proc.returncode != 0:
        raise UsageError(f"drill: sandbox set-up step failed: {' '.join(argv[:3])}: "
                         f"{proc.stderr.strip()[-400:]}")
    return proc


def _git_proc(env: Mapping[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """git through `gitio` with exactly the sandbox's environment (`env`, scrubbed again by
    gitio), stdin empty; a git that cannot run or hangs is an exit code, never an exception."""
    try:
        return gitio.run(cwd, *args, input=b"", base_env=env, timeout=COMMAND_TIMEOUT,
                         check=False)
    except gitio.GitError as exc:  # cannot start git, or it timed out
        return subprocess.CompletedProcess(["git", *args], exc.returncode, b"",
                                           exc.stderr.encode("utf-8", "replace"))


def _git(env: Mapping[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """A sandbox set-up git step: it must succeed (else a UsageError naming the step)."""
    proc = _git_proc(env, cwd, *args)
    if proc.returncode != 0:
        raise UsageError(f"drill: sandbox set-up step failed: git {' '.join(args[:2])}: "
                         f"{proc.stderr.decode('utf-8', 'replace').strip()[-400:]}")
    return proc
