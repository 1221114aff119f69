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
from collections.abc import Iterator

from helm_guard.checker import Context, Problem

ID = "HG606"
NAME = "uncovered-config"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = "A wrangler config in the repository is not covered by the fleet's configs."

_NAMES = frozenset({"wrangler.json", "wrangler.jsonc", "wrangler.toml"})
_SKIP_DIRS = frozenset({"node_modules", ".git", ".wrangler"})


def check(ctx: Context, collected: list[object]) -> Iterator[Problem]:
    root = ctx.fleet.root
    covered = ctx.covered
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            if name not in _NAMES:
                continue
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            if rel not in covered:
                yield Problem(None, rel, (),
                              f"{rel} is a wrangler config that the fleet file's \"configs\" do "
                              "not cover: nothing checks what it would deploy; delete it or add "
                              "a pattern for it")
