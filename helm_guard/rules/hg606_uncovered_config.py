"""## What it does
Fleet-wide: reports any wrangler config file in the fleet repository (`wrangler.json`,
`wrangler.jsonc`, `wrangler.toml`, in any case: `Wrangler.JSON` is the same file to wrangler on
macOS and Windows; outside `node_modules`, `.git` and `.wrangler`, whose deploy redirect is
HG104's) that the fleet file's `configs` patterns do not cover.

## Why is this bad?
A config nobody checks is a config anybody can deploy from. wrangler finds config files by
walking up from the current directory (`findWranglerConfig`), so a stray `wrangler.json` next
to a checked `wrangler.jsonc` even *wins* (wrangler reads `.json` first). helm-guard parses
JSONC only, so a `wrangler.toml` is reported too. Configs in folders *above* the fleet root,
and `.wrangler/deploy/config.json` redirects, are HG104's.

## Example
`shops/acme/wrangler.jsonc` is covered by `shops/*/wrangler.jsonc`, but
`shops/acme/wrangler.json` and `shops/zz-ops/wrangler.json` are not.

Use instead:
Delete the stray file, or add a pattern for it to `configs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from helm_guard import side_inputs
from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.rules import _tree

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg606_uncovered_config as _this
    from helm_guard.rules.types import SummarizingFleetRule
    _: SummarizingFleetRule = _this

ID = "HG606"
NAME = "uncovered-config"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = "A wrangler config in the repository is not covered by the fleet's configs."

_KINDS = frozenset({side_inputs.CONFIG})


def collect(f: ConfigFile, ctx: Context) -> Iterator[str | side_inputs.Found]:
    """Configs inside this config's own folder tree when it is a leaf (the walk is shared with
    HG104: `rules/_tree.py`); the covered ones, nearly all, need not travel back."""
    covered = ctx.covered
    for x in _tree.collect(f, ctx, _KINDS):
        if isinstance(x, str) or x.rel not in covered:
            yield x


summarize = _tree.summarize


def check(ctx: Context, collected: list[Any]) -> Iterator[Problem]:
    covered = ctx.covered
    for rel in sorted(x.rel for x in _tree.found(ctx, collected, _KINDS)):
        if rel not in covered:
            yield Problem(None, rel, (),
                          f"{rel} is a wrangler config that the fleet file's \"configs\" do "
                          "not cover: nothing checks what it would deploy (wrangler run in "
                          "its folder, or below it, deploys it); delete it or add a pattern "
                          "for it")
