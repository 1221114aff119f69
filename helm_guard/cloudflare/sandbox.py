"""What wrangler runs as: the pinned package, an environment built from scratch, a neutral folder.

A `wrangler` process holds the Cloudflare API token, so nothing the fleet repository controls
may reach it: no code (a `build.command`, an npm install script, a wrangler that is not the
pinned one), no setting (a `.env` file, an ambient `wrangler.json`, a redirect, an
environment variable exported by an earlier CI step). This module builds the three things
`helm_guard.cloudflare.wrangler.Wrangler` starts wrangler with.

**The pinned package** (`pinned_package`). wrangler is located by `--wrangler`,
`$HELM_GUARD_WRANGLER` or `<fleet root>/node_modules/.bin/wrangler` (never PATH). Whatever is
found must resolve to the `bin/wrangler.js` of a package named `wrangler`, version
`PINNED_VERSION`, whose own entry files (`bin/wrangler.js`, `wrangler-dist/cli.js`: the code
that holds the token) have the SHA-256 digests recorded below (taken from the npm tarball of
4.86.0, whose `sha512` integrity is in `tests/node/package-lock.json`). Anything else is
refused before any process starts. helm-guard then runs `node <pkg>/bin/wrangler.js`, never a
shell shim.

**Its dependencies** (`helm_guard.cloudflare.tree.verify_tree`, called by `pinned_package`, so
every run through `helm_guard.cloudflare.wrangler` is covered): wrangler `require`s esbuild
(which spawns its native `@esbuild/<platform>` binary), miniflare, workerd (a native binary),
unenv, undici, sharp, ... from the same `node_modules` tree, and a fleet repository controls
that tree (its lock file, or the folder after `npm ci`). helm-guard ships the exact closure it
trusts for wrangler 4.86.0 (`wrangler_tree.json`: every package's files with size and SHA-256,
and every bare name its code loads), made from its own lock (`tests/node/package-lock.json`).
Before a process starts, every name is resolved the way node resolves it (each ancestor's
`node_modules`, the first `<name>`, `.js`, `.json`, `.node` wins; `NODE_PATH` is never passed)
and must land on a folder holding exactly the recorded package; a name the manifest records as
absent (another platform's binary, `bufferutil` that `ws` tries in a try/catch, `sqlite` that
`cli.js` ~l.21944 loads by that bare name) must resolve nowhere; symlinks on the way are
refused. Why this variant rather than a helm-guard-owned `npm ci --offline` install: it needs
no npm and no package cache at deploy time (the cache is as repository-writable as the tree),
costs one hashing pass per helm-guard process (~0.3 s for ~200 MB, memoized by inode), and it
checks what node will actually load rather than what an installer was asked to write. The
deploy workflows install with `npm ci --ignore-scripts` in a step without the token; a tree on
which esbuild's/workerd's install scripts ran is accepted too (their only change is a copy of
the recorded platform binary). Details and what is not covered: `helm_guard/cloudflare/tree.py`.

**The environment** (`wrangler_environment`), allow-listed, never inherited: `PATH` = the
directory of the `node` found on the caller's PATH + `/usr/bin:/bin`; `HOME`, `XDG_*_HOME`,
`TMPDIR`, `WRANGLER_LOG_PATH` inside the run's private folder (so no stored OAuth login,
`~/.wrangler` config or npm config is read); `CLOUDFLARE_API_TOKEN`, `CLOUDFLARE_ACCOUNT_ID`
(32 hex) and `CLOUDFLARE_API_BASE_URL` (https, or http on loopback:
`helm_guard.cloudflare.api.check_base_url`) from helm-guard's caller; `FORCED_ENV` (`CI=true`,
metrics and error reports off, no colour). Nothing else: no `NODE_OPTIONS`, no `NODE_PATH`, no
proxies, no `CLOUDFLARE_ENV`, no `WRANGLER_*` from outside (e.g. `WRANGLER_CI_OVERRIDE_NAME`,
which beats even `--name`).

**The neutral folder** (`neutral_folder`): a fresh private directory is wrangler's cwd, holds
its HOME and an empty `.env` file passed as `--env-file`. wrangler 4.86 loads `.env` files in a
yargs check of the global parser (`wrangler-dist/cli.js` `createCLIParser`, ~l.308591):
`(args["env-file"] ?? getDefaultEnvFiles(args.env)).map(p => path.resolve(p))`, i.e. `.env`,
`.env.local`, `.env.<env>`, `.env.<env>.local` resolved against the *cwd* (never the config's
folder), and an explicit `--env-file` *replaces* that list. Both are used: the cwd has no
`.env`, and the only env file is the empty one. (`tests/test_wrangler.py` proves it with the
real wrangler: a `.env` beside the config setting `WRANGLER_CI_OVERRIDE_NAME` changes nothing.)
Config discovery and the `.wrangler/deploy/config.json` redirect are skipped because every
call passes an explicit absolute `--config` (`resolveWranglerConfigPath`, ~l.3034: a given
config returns before `findWranglerConfig`/`findRedirectedWranglerConfig`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from helm_guard.errors import Blocked

PINNED_VERSION = "4.86.0"
#: SHA-256 of the pinned package's own entry files (the npm tarball of wrangler@4.86.0).
PINNED_FILES: Mapping[str, str] = {
    "bin/wrangler.js": "770db21641fb72c8035877b33c6a32856d61d253b58d9ea20e37820bcbc79007",
    "wrangler-dist/cli.js": "71ffe53e2695afab57843d973973fa116c6fca6b9e293375a0a3c6951ddcd198",
}
#: Set for every wrangler run.
FORCED_ENV: Mapping[str, str] = {
    "CI": "true",  # belt and braces with stdin=/dev/null: every prompt takes its default
    "WRANGLER_SEND_METRICS": "false",
    "WRANGLER_SEND_ERROR_REPORTS": "false",
    "WRANGLER_HIDE_BANNER": "true",  # the banner also triggers an npm update check
    "FORCE_COLOR": "0",
    "NO_COLOR": "1",
    "LANG": "C.UTF-8",
}
#: The only variables taken from helm-guard's caller (or `extra_env`).
CREDENTIAL_ENV = ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_BASE_URL")
#: Accepted in `extra_env` for compatibility, and dropped: helm-guard sets its own.
OWN_ENV = frozenset(
    {"HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
     "WRANGLER_LOG_PATH", "WRANGLER_SEND_METRICS", "TMPDIR"}
)
SYSTEM_PATH = ("/usr/bin", "/bin")
_ACCOUNT_RE = re.compile(r"[0-9a-f]{32}")


class SandboxError(Blocked):
    """wrangler cannot be run safely (not the pinned package, a bad setting, no node)."""


class WranglerPackage(NamedTuple):
    """The verified, pinned wrangler: run `node <bin_js> ...`."""

    root: Path  # .../node_modules/wrangler
    bin_js: Path
    node: Path
    version: str


_HASHED: dict[tuple[int, int, int, int, int], str] = {}  # (dev, ino, size, mtime, ctime) -> sha


def file_sha256(path: Path, st: os.stat_result | None = None) -> str:
    """The SHA-256 of file `path` (`st`: its `stat`, when the caller has it), memoised within
    this process only, by device, inode, size, modification and change time: a file rewritten
    in place changes its change time, so it is hashed again (never memoised on disk). Used for
    wrangler's entry files here and its whole dependency closure (`tree.verify_tree`)."""
    st = path.stat() if st is None else st
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    digest = _HASHED.get(key)
    if digest is None:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = _HASHED[key] = h.hexdigest()
    return digest


def pinned_package(executable: Path, *, source: str) -> WranglerPackage:
    """Verify that `executable` is the pinned wrangler; SandboxError says why not."""
    hint = ("install the pinned wrangler without running install scripts, in a step that holds "
            f"no Cloudflare token: `npm ci --ignore-scripts` with wrangler@{PINNED_VERSION} in "
            "the lock file (or `npm install --save-exact --ignore-scripts "
            f"wrangler@{PINNED_VERSION}`)")
    try:
        bin_js = executable.resolve(strict=True)
    except OSError as exc:
        raise SandboxError(f"wrangler from {source}: {executable} cannot be resolved ({exc})",
                           hint=hint) from None
    root = bin_js.parent.parent
    if bin_js.name != "wrangler.js" or bin_js.parent.name != "bin":
        raise SandboxError(
            f"wrangler from {source} ({executable}) resolves to {bin_js}, not the "
            "`bin/wrangler.js` of the wrangler package: refusing to run it with the token",
            hint=hint)
    try:
        meta = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SandboxError(f"wrangler from {source}: {root}/package.json is unreadable ({exc})",
                           hint=hint) from None
    name = meta.get("name") if isinstance(meta, dict) else None
    version = meta.get("version") if isinstance(meta, dict) else None
    if name != "wrangler" or version != PINNED_VERSION:
        raise SandboxError(
            f"wrangler from {source} ({root}) is {name!r} {version!r}, not wrangler "
            f"{PINNED_VERSION}: refusing to run it with the token", hint=hint)
    for rel, want in PINNED_FILES.items():
        path = root / rel
        try:
            got = file_sha256(path)
        except OSError as exc:
            raise SandboxError(f"wrangler {PINNED_VERSION} at {root}: {rel} is unreadable "
                               f"({exc.strerror or exc})", hint=hint) from None
        if got != want:
            raise SandboxError(
                f"wrangler {PINNED_VERSION} at {root}: {rel} is not the published file "
                f"(sha256 {got[:16]}…, expected {want[:16]}…): it was modified; refusing to "
                "run it with the token", hint=hint)
    node = find_node()
    from helm_guard.cloudflare.tree import verify_tree  # deploy path only, never `check`

    verify_tree(root, node)
    return WranglerPackage(root, bin_js, node, version)


def find_node(path: str | None = None) -> Path:
    """The `node` on the caller's PATH (the operator's setting, not the repository's)."""
    found = shutil.which("node", path=os.environ.get("PATH", "") if path is None else path)
    if found is None:
        raise SandboxError("node is not on PATH: wrangler needs Node.js 20",
                           hint="install Node.js 20 (actions/setup-node in CI)")
    return Path(found).resolve()


def credentials(extra_env: Mapping[str, str], source: Mapping[str, str] | None = None
                ) -> dict[str, str]:
    """The allow-listed Cloudflare settings, from `source` (default: os.environ) overridden by
    `extra_env`; validated. Unknown `extra_env` keys are refused (deny by default)."""
    from helm_guard.cloudflare.api import CloudflareError, check_base_url

    unknown = sorted(set(extra_env) - set(CREDENTIAL_ENV) - OWN_ENV)
    if unknown:
        raise SandboxError("refusing to run wrangler: extra_env may only set "
                           + ", ".join(CREDENTIAL_ENV) + f" (got {', '.join(unknown)})")
    env = os.environ if source is None else source
    out = {k: env[k] for k in CREDENTIAL_ENV if env.get(k)}
    out.update({k: v for k, v in extra_env.items() if k in CREDENTIAL_ENV})
    for key, value in out.items():
        if not isinstance(value, str) or any(ord(c) < 32 for c in value):
            raise SandboxError(f"refusing to run wrangler: {key} has control characters")
    account = out.get("CLOUDFLARE_ACCOUNT_ID")
    if account is not None and not _ACCOUNT_RE.fullmatch(account):
        raise SandboxError("refusing to run wrangler: CLOUDFLARE_ACCOUNT_ID is not 32 "
                           "lowercase hex digits")
    base = out.get("CLOUDFLARE_API_BASE_URL")
    if base is not None:
        try:
            out["CLOUDFLARE_API_BASE_URL"] = check_base_url(base)
        except CloudflareError as exc:
            raise SandboxError(f"refusing to run wrangler: {exc.message}", hint=exc.hint) from None
    return out


def wrangler_environment(node: Path, folder: Path, creds: Mapping[str, str]) -> dict[str, str]:
    """The whole environment of one wrangler run (contains the token: never log it)."""
    home = folder / "home"
    dirs = [str(node.parent)] + [d for d in SYSTEM_PATH if d != str(node.parent)]
    env = {
        "PATH": os.pathsep.join(dirs),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TMPDIR": str(home / "tmp"),
        "WRANGLER_LOG_PATH": str(home / "logs"),
    }
    env.update(creds)
    env.update(FORCED_ENV)
    return env


@contextmanager
def neutral_folder() -> Iterator[Path]:
    """A private, empty working folder for one wrangler run: cwd, HOME and the empty
    `.env` file (`empty.env`) live in it; removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="helm-guard-wrangler-") as tmp:
        folder = Path(tmp)
        (folder / "home" / "tmp").mkdir(parents=True)
        (folder / "empty.env").write_text("", encoding="utf-8")
        yield folder
