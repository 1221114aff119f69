"""## What it does
Fleet-wide: reports every file that wrangler 4.86 reads *besides* the config helm-guard
checks, wherever wrangler could read it:

- `.env`, `.env.*` (wrangler loads `.env`, `.env.local`, `.env.<env>`, `.env.<env>.local`
  from the folder it is started in, for every command) anywhere in the fleet repository;
- `.dev.vars`, `.dev.vars.*` (local secrets that `wrangler dev` and `wrangler types` read
  beside the config) anywhere in the fleet repository;
- `.wrangler/deploy/config.json` (a *redirect*: `deploy`, `versions upload`,
  `versions deploy` and `preview` deploy the config its `configPath` names instead) in any
  folder of the repository or above it, and a `.wrangler` that is a symlink or a file;
- `.npmrc` anywhere in the fleet repository (and above the fleet root inside the git work
  tree): npm's project settings, read when wrangler's tree is installed there; they can
  name the program npm runs for git dependencies (`git=`, run even with `--ignore-scripts`)
  or the registry the packages come from (the deploy workflow refuses to install with one);
- a symlink to a folder anywhere in the repository (outside `node_modules` and `.git`):
  helm-guard does not walk through links, so a `.env`, redirect or config in the linked
  folder would be unseen (deny by default);
- `wrangler.json`, `wrangler.jsonc`, `wrangler.toml` in any folder *above* the fleet root
  (wrangler looks for `wrangler.json` in every parent folder before it looks for
  `wrangler.jsonc`), and a folder that cannot be listed.

Names are compared without case (macOS and Windows file systems ignore it). `node_modules`
and `.git` are not walked.

## Why is this bad?
These files change what a hand-run `wrangler deploy` does without touching the checked config.
A `.env` with `WRANGLER_CI_OVERRIDE_NAME=helm-bravo` deploys shop A's config as shop B's
Worker (it beats even `--name`); `CLOUDFLARE_ENV=staging` deploys another env;
`CLOUDFLARE_API_BASE_URL` sends the operator's API token to any server;
`CLOUDFLARE_ACCOUNT_ID` picks the account. A redirect or a parent `wrangler.json` swaps the
whole config. helm-guard's own deploy neutralises them (allow-listed environment, neutral
working folder, explicit `--config`), but operators also run wrangler by hand.

## Example
`shops/acme/.env` containing `WRANGLER_CI_OVERRIDE_NAME=helm-bravo`, or
`shops/acme/.wrangler/deploy/config.json` containing `{"configPath": "../../../x/wrangler.json"}`,
or `wrangler.json` in the folder that holds the fleet repository.

Use instead:
Delete the file (keep local settings outside the repository and set variables in the shell or
the CI job), add `.env*`, `.dev.vars*` and `.wrangler/` to `.gitignore`, and move configs
above the fleet root away. Replace a symlinked folder by a real folder (or remove it).
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from helm_guard import side_inputs as si
from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.jsonc import Span
from helm_guard.rules import _tree

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg104_wrangler_side_input as _this
    from helm_guard.rules.types import SummarizingFleetRule
    _: SummarizingFleetRule = _this

ID = "HG104"
NAME = "wrangler-side-input"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = ("A file wrangler reads besides the checked config (.env, redirect, parent config), "
           "or a symlinked folder hiding one.")

_KINDS = frozenset({si.DOTENV, si.DEV_VARS, si.NPMRC, si.REDIRECT_KIND, si.WRANGLER_NOT_DIR,
                    si.SYMLINK_DIR, si.UNREADABLE})
# variables that steer wrangler or the Node process it runs in (names only are ever shown)
_STEERING = re.compile(r"(?:CLOUDFLARE_|WRANGLER_|CF_|NODE_|WORKERS_CI|XDG_|DOCKER_|npm_config_)"
                       r"|(?:HTTPS?_PROXY|NO_PROXY|HOME|PATH|OPEN_NEXT_DEPLOY)\Z", re.I)
_VAR = re.compile(r"^[ \t]*(?:export[ \t]+)?([\w.-]+)[ \t]*[=:]", re.M)
_READ_LIMIT = 1 << 20


def collect(f: ConfigFile, ctx: Context) -> Iterator[str | si.Found]:
    return _tree.collect(f, ctx, _KINDS)


summarize = _tree.summarize


def check(ctx: Context, collected: list[Any]) -> Iterator[Problem]:
    root = ctx.fleet.root
    found = sorted(_tree.found(ctx, collected, _KINDS))
    slugs = _slug_dirs(ctx) if found else {}
    for x in found:
        yield _problem(root, x.rel, x.kind, _shop_of(slugs, x.rel))
    for parent, x in si.ancestors_above(root):
        rel = os.path.relpath(parent / x.rel, root).replace(os.sep, "/")
        if x.kind == si.CONFIG:
            yield Problem(None, rel, (), (
                f"{_show(rel)} ({_show(str(parent / x.rel))}) is a wrangler config above the "
                "fleet root: wrangler "
                "looks for wrangler.json, then wrangler.jsonc, then wrangler.toml in the folder "
                "it starts in and in every parent folder (findWranglerConfig), so `wrangler "
                "deploy` run by hand in a shop's folder without --config can deploy this file "
                "instead of the shop's; move it out of every folder above the fleet"),
                span=Span(1, 1, 1, 1))
        else:
            yield _problem(root, rel, x.kind, None)


def _problem(root: Any, path: str, kind: str, shop: str | None) -> Problem:
    span = Span(1, 1, 1, 1)
    rel = _show(path)
    if kind == si.DOTENV:
        span, names = _dotenv(os.path.join(root, path))
        shown = f" (it sets {', '.join(names[:6])}{', ...' if len(names) > 6 else ''})" \
            if names else ""
        msg = (f"{rel}{shown} is an .env file: wrangler loads .env, .env.local, .env.<env> and "
               ".env.<env>.local from the folder it is started in into its environment before "
               "any command (createCLIParser -> loadDotEnv), so a hand-run `wrangler deploy` "
               "there takes WRANGLER_CI_OVERRIDE_NAME (another Worker name, beating --name), "
               "CLOUDFLARE_ENV (another env), CLOUDFLARE_ACCOUNT_ID or CLOUDFLARE_API_BASE_URL "
               "(the API token sent elsewhere) from it; delete it, set variables in the shell "
               "or CI job, and add .env* to .gitignore")
    elif kind == si.DEV_VARS:
        msg = (f"{rel} is a .dev.vars file: local secrets that `wrangler dev` and `wrangler "
               "types` read beside the config (getVarsForDev); committed, they are published "
               "and travel with every checkout; delete it and add .dev.vars* to .gitignore")
    elif kind == si.NPMRC:
        msg = (f"{rel} is an .npmrc file: npm reads it when wrangler's tree is installed in "
               "this repository (`npm ci`/`npm install` by an operator or a CI job), and it "
               "can name the program npm runs for git dependencies (`git=`, run even with "
               "--ignore-scripts), the shell for scripts, the registry the packages come from "
               "and whether install scripts run; the deploy workflow refuses to install with "
               "one; delete it (registry credentials belong in the user's ~/.npmrc or the CI "
               "job's settings)")
    elif kind == si.REDIRECT_KIND:
        where = posixpath.dirname(posixpath.dirname(posixpath.dirname(rel))) or "."
        msg = (f"{rel} is a wrangler deploy redirect: `wrangler deploy`, `versions upload`, "
               f"`versions deploy` and `preview` run without --config in {where} or any "
               "folder below it deploy the config its \"configPath\" names instead "
               "(findRedirectedWranglerConfig), which nothing checks; delete it and add "
               ".wrangler/ to .gitignore")
    elif kind == si.WRANGLER_NOT_DIR:
        msg = (f"{rel} is a symlink or a file where wrangler keeps its build output and looks "
               "for deploy redirects (.wrangler/deploy/config.json): what wrangler finds "
               "through it is not in the repository; delete it")
    elif kind == si.SYMLINK_DIR:
        msg = (f"{rel} is a symlink to a folder: helm-guard does not walk through links (one "
               "can lead anywhere, and what it leads to changes without a commit), so it "
               "cannot see what wrangler reads through it: a .env, a .dev.vars, a "
               ".wrangler/deploy/config.json redirect or a wrangler config in the linked "
               "folder, read when wrangler is started there; replace the link by a real "
               "folder in the repository, or remove it")
    else:
        msg = (f"{rel} is a folder helm-guard cannot list: it cannot tell whether wrangler "
               "would read a .env, a redirect or a config in it; make it readable or delete it")
    return Problem(None, path, (), msg, shop, span=span)


def _show(path: str) -> str:
    """A path for a message: as it is, or escaped when it holds control characters."""
    return path if path.isprintable() else ascii(path)


def _dotenv(path: str) -> tuple[Span, list[str]]:
    """The position of the first steering variable (else the first variable, else 1:1) and
    every variable name in an .env file; never its values."""
    try:  # a folder, a FIFO, a symlink (it may lead to any file): never opened
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return Span(1, 1, 1, 1), []
        with open(path, "rb") as fh:
            text = fh.read(_READ_LIMIT).decode("utf-8", "replace")
    except OSError:  # a dangling symlink, unreadable: the name is the finding
        return Span(1, 1, 1, 1), []
    names: list[str] = []
    first: tuple[int, int, int] | None = None
    steer: tuple[int, int, int] | None = None
    for m in _VAR.finditer(text):
        name = m.group(1)
        if name not in names:
            names.append(name)
        line = text.count("\n", 0, m.start(1)) + 1
        col = m.start(1) - (text.rfind("\n", 0, m.start(1)) + 1) + 1
        here = (line, col, col + len(name))
        first = first or here
        if steer is None and _STEERING.match(name):
            steer = here
    at = steer or first
    return (Span(at[0], at[1], at[0], at[2]) if at else Span(1, 1, 1, 1)), names


def _slug_dirs(ctx: Context) -> dict[str, str]:
    """Folder of each shop-per-file config -> its shop (to name the shop a file concerns)."""
    return {posixpath.dirname(rel): e.slug for rel, e in ctx.entries.items()
            if e.slug is not None and posixpath.dirname(rel)}


def _shop_of(slugs: dict[str, str], rel: str) -> str | None:
    d = posixpath.dirname(rel)
    while d:
        if d in slugs:
            return slugs[d]
        d = posixpath.dirname(d)
    return None
