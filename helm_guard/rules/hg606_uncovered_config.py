"""## What it does
Fleet-wide: reports any wrangler config file in the fleet repository (`wrangler.json`,
`wrangler.jsonc`, `wrangler.toml`, outside `node_modules`, `.git`, `.wrangler`) that the fleet
file's `configs` patterns do not cover.

## Why is this bad?
A config nobody checks is a config anybody can deploy from. wrangler finds config files by
walking up from the current directory, so a stray `wrangler.json` next to a checked
`wrangler.jsonc` even *wins* (wrangler reads `.json` first). helm-guard parses JSONC only, so
a `wrangler.toml` is reported too.

## Example
`shops/acme/wrangler.jsonc` is covered by `shops/*/wrangler.jsonc`, but
`shops/acme/wrangler.json` is not.

Use instead:
Delete the stray file, or add a pattern for it to `configs`.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from helm_guard.context import ConfigFile, Context, Problem

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg606_uncovered_config as _this
    from helm_guard.rules.types import CollectingFleetRule
    _: CollectingFleetRule = _this

ID = "HG606"
NAME = "uncovered-config"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = "A wrangler config in the repository is not covered by the fleet's configs."

_NAMES = frozenset({"wrangler.json", "wrangler.jsonc", "wrangler.toml"})
_SKIP_DIRS = frozenset({"node_modules", ".git", ".wrangler"})


def _leaf_dirs(ctx: Context) -> frozenset[str]:
    """Config directories with no other config directory below them: `collect` walks each of
    these (in the parallel map phase), so the fleet-wide walk can skip them."""
    if ID not in ctx.cache:
        dirs = {posixpath.dirname(rel) for rel in ctx.covered}
        ancestors = set()
        for d in dirs:
            while d:
                d = posixpath.dirname(d)
                ancestors.add(d)
        ctx.cache[ID] = frozenset(d for d in dirs if d and d not in ancestors)
    leaves: frozenset[str] = ctx.cache[ID]
    return leaves


def _walk(root: Path, top: str, prune: frozenset[str]) -> Iterator[str]:
    """Relative paths of every wrangler config below `root/top`, skipping `prune` dirs and
    symlinked directories (one `scandir` per directory; most shop folders have no subfolder)."""
    base = str(root)
    stack = [top]
    while stack:
        rel_dir = stack.pop()
        try:
            with os.scandir(os.path.join(base, rel_dir) if rel_dir else base) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            name = entry.name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if name in _NAMES:
                yield rel
            elif (name not in _SKIP_DIRS and rel not in prune
                  and entry.is_dir(follow_symlinks=False)):
                stack.append(rel)


def collect(f: ConfigFile, ctx: Context) -> Iterator[str]:
    """When this config's directory is a leaf: the directory, marked walked (`dir/`), and the
    uncovered wrangler configs in its tree (the covered ones, nearly all, need not travel back
    from a worker)."""
    d = posixpath.dirname(f.rel)
    if d in _leaf_dirs(ctx):  # (two configs in one leaf dir walk it twice: found is a set)
        covered = ctx.covered
        yield d + "/"
        yield from (rel for rel in _walk(ctx.fleet.root, d, frozenset()) if rel not in covered)


def check(ctx: Context, collected: list[str]) -> Iterator[Problem]:
    """The fleet-wide walk skips exactly the directories that `collect` walked: the leaves
    are worked out from the configs known when the map began, which in a parallel run
    include candidates that turn out not to exist, so they are not recomputed here."""
    covered = ctx.covered
    walked = frozenset(x[:-1] for x in collected if x.endswith("/"))
    found = {x for x in collected if not x.endswith("/")}
    found.update(_walk(ctx.fleet.root, "", walked))
    for rel in sorted(found):
        if rel not in covered:
            yield Problem(None, rel, (),
                          f"{rel} is a wrangler config that the fleet file's \"configs\" do "
                          "not cover: nothing checks what it would deploy; delete it or add "
                          "a pattern for it")
