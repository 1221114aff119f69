"""Files beside and above a wrangler config that wrangler 4.86 reads: their names, and one
walk of the fleet repository that finds them (shared by HG104 and HG606, and by the digest).

What wrangler reads (line numbers of `node_modules/wrangler/wrangler-dist/cli.js`, 4.86.0;
the whole list with its handling is `docs/threat-model.md`):

- config discovery, `findWranglerConfig` (l.3049, through `file`, l.2985, which `statSync`s
  `<dir>/<name>` for the start folder and every parent up to `/`): `wrangler.json` all the way
  up, then `wrangler.jsonc`, then `wrangler.toml`. A parent `wrangler.json` beats a
  `wrangler.jsonc` in the start folder.
- redirects, `findRedirectedWranglerConfig` (l.3067; `deploy`, `versions upload`,
  `versions deploy`, `preview`): `.wrangler/deploy/config.json` in the start folder or any
  parent; its `configPath` names the config that is deployed instead.
- `.env` files, `createCLIParser` (l.308591) -> `getDefaultEnvFiles` (l.166561) ->
  `loadDotEnv` (l.166569): `.env`, `.env.local`, `.env.<env>`, `.env.<env>.local` (or every
  `--env-file`) resolved against the current folder, loaded into `process.env` before any
  command runs, for every command. Variables already set in the environment win
  (dotenv-expand), so a `.env` sets whatever the operator's shell does not:
  `WRANGLER_CI_OVERRIDE_NAME`, `CLOUDFLARE_ENV`, `CLOUDFLARE_API_BASE_URL`, ...
- `.dev.vars` / `.dev.vars.<env>` beside the config, `getVarsForDev` (l.296051): `dev` and
  `types`, not `deploy`; committed, they publish secrets.

On a case-insensitive file system (macOS, Windows) `Wrangler.JSON` or `.ENV` is the same file
to wrangler, and Windows ignores trailing dots and spaces (`.env.`), so names are compared
without case and without those.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

CONFIG_NAMES = ("wrangler.json", "wrangler.jsonc", "wrangler.toml")  # wrangler's order
_CONFIGS = frozenset(CONFIG_NAMES)
REDIRECT = ".wrangler/deploy/config.json"
SKIP_DIRS = frozenset({"node_modules", ".git"})  # never walked (installed or git's own)

# kinds of what the walk finds
CONFIG = "config"  # a wrangler config file name (any case)
DOTENV = "dotenv"  # .env, .env.* (wrangler loads .env, .env.local, .env.<env>[.local])
DEV_VARS = "dev-vars"  # .dev.vars, .dev.vars.*
NPMRC = "npmrc"  # .npmrc: npm's project settings (install wrangler's tree with them)
REDIRECT_KIND = "redirect"  # .wrangler/deploy/config.json
WRANGLER_NOT_DIR = "wrangler-not-dir"  # a .wrangler that is a symlink or not a directory
SYMLINK_DIR = "symlink-dir"  # a symlink to a folder: not walked, so what is in it is unseen
UNREADABLE = "unreadable"  # a folder that cannot be listed


class Found(NamedTuple):
    rel: str  # relative to the walk's root, POSIX
    kind: str


def kind_of(name: str) -> str | None:
    """What wrangler makes of a file named `name` (None: nothing this module tracks;
    ".wrangler" for the folder that may hold a redirect)."""
    c = name[:1]
    if c != "." and c != "w" and c != "W":
        return None
    low = name.lower().rstrip(" .")  # Windows drops trailing dots and spaces: `.env.` is .env
    if low in _CONFIGS:
        return CONFIG
    if low == ".env" or low.startswith(".env."):
        return DOTENV
    if low == ".dev.vars" or low.startswith(".dev.vars."):
        return DEV_VARS
    if low == ".npmrc":
        return NPMRC
    if low == ".wrangler":
        return ".wrangler"
    return None


def _entries(path: str) -> list[os.DirEntry[str]] | None:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return None


def _redirects(base: str, rel_dir: str, entry: os.DirEntry[str]) -> Iterator[Found]:
    """What a `.wrangler` entry in `rel_dir` contributes: itself when it is not a plain
    directory, else its `deploy/config.json` (any case) when there is one."""
    rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
    try:
        is_dir = entry.is_dir(follow_symlinks=False)
    except OSError:
        is_dir = False
    if not is_dir:
        yield Found(rel, WRANGLER_NOT_DIR)
        return
    for sub in _entries(os.path.join(base, rel)) or ():
        if sub.name.lower() != "deploy":
            continue
        sub_rel = f"{rel}/{sub.name}"
        if not sub.is_dir(follow_symlinks=False):
            yield Found(sub_rel, WRANGLER_NOT_DIR)
            continue
        for leaf in _entries(os.path.join(base, sub_rel)) or ():
            if leaf.name.lower() == "config.json":
                yield Found(f"{sub_rel}/{leaf.name}", REDIRECT_KIND)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a loop, a target that cannot be reached: nothing to walk there
        return False


def walk(root: Path | str, top: str = "", prune: Iterable[str] = ()) -> Iterator[Found]:
    """Every wrangler config, `.env*`, `.dev.vars*` and `.wrangler` redirect (or odd
    `.wrangler`) at or below `root/top`, in any case, skipping `node_modules`, `.git` and the
    folders in `prune` (walked by someone else); one `scandir` per folder. A symlink to a
    folder is not walked (it can lead anywhere, and its target changes without a commit) but
    reported as `SYMLINK_DIR` (deny by default: what wrangler started in it, or discovering
    configs through it, reads is unseen), also when its name is in `prune`. A folder that
    cannot be listed is reported as `UNREADABLE` (what is in it cannot be known, and wrangler
    may still `stat` names inside it)."""
    base = str(root)
    pruned = frozenset(prune)
    stack = [top]
    while stack:
        rel_dir = stack.pop()
        entries = _entries(os.path.join(base, rel_dir) if rel_dir else base)
        if entries is None:
            yield Found(rel_dir or ".", UNREADABLE)
            continue
        for entry in entries:
            name = entry.name
            kind = kind_of(name)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if kind is None:
                if name in SKIP_DIRS:
                    continue
                if entry.is_symlink():  # d_type: no system call; is_dir() follows (one stat)
                    if _is_dir(entry):
                        yield Found(rel, SYMLINK_DIR)
                elif rel not in pruned and entry.is_dir(follow_symlinks=False):
                    stack.append(rel)
            elif kind == ".wrangler":
                yield from _redirects(base, rel_dir, entry)
            else:
                yield Found(rel, kind)


def ancestors_above(root: Path) -> Iterator[tuple[Path, Found]]:
    """What wrangler may read in the folders above `root`, up to the file system's root:
    wrangler configs (any case) and `.wrangler` redirects in every one of them (wrangler's
    discovery reaches them from any folder of the fleet), and `.env*`/`.dev.vars*` in those
    that are still inside the git work tree holding the fleet (an operator may start wrangler
    at the repository's top with `-c`). A folder that cannot be listed is probed for the exact
    names wrangler `stat`s."""
    here = root.resolve()
    top = next((d for d in (here, *here.parents) if os.path.lexists(d / ".git")), None)
    for parent in here.parents:
        in_repo = top is not None and (parent == top or top in parent.parents)
        entries = _entries(str(parent))
        if entries is None:
            probes = [*CONFIG_NAMES, REDIRECT, *((".env", ".env.local") if in_repo else ())]
            for name in probes:
                if os.path.lexists(parent / name):
                    probed = (REDIRECT_KIND if name == REDIRECT
                              else DOTENV if name.startswith(".env") else CONFIG)
                    yield parent, Found(name, probed)
            continue
        for entry in entries:
            kind = kind_of(entry.name)
            if kind is None:
                continue
            if kind == CONFIG or (in_repo and kind in (DOTENV, DEV_VARS, NPMRC)):
                yield parent, Found(entry.name, kind)
            elif kind == ".wrangler":
                for found in _redirects(str(parent), "", entry):
                    yield parent, found


def dir_inputs(folder: str, *, env_files: bool) -> list[str]:
    """Names (relative to `folder`) of what wrangler may read in one folder: configs and
    redirects always, `.env*`/`.dev.vars*` when `env_files`; sorted. Used by the digest."""
    out: list[str] = []
    for entry in _entries(folder) or ():
        kind = kind_of(entry.name)
        if kind is None or (not env_files and kind in (DOTENV, DEV_VARS, NPMRC)):
            continue
        if kind == ".wrangler":
            out.extend(f.rel for f in _redirects(folder, "", entry))
        else:
            out.append(entry.name)
    out.sort()
    return out
