"""## What it does
In a file with one env per shop, the top level is the shared base, not a shop. It must bind
nothing (no D1, R2, KV, services, queues, ...) and route nothing.

## Why is this bad?
wrangler does not pass top-level bindings to envs, so they protect nothing; but a bare
`wrangler deploy` without `--env` deploys the top level itself, with those bindings and
routes, as a Worker of no shop.

## Example
```jsonc
{"name": "helm", "d1_databases": [{"binding": "DB", "database_id": "…"}],
 "env": {"acme": {...}}}
```

Use instead:
```jsonc
{"name": "helm", "env": {"acme": {"d1_databases": [...]}}}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.resolve import BINDING_KEYS

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg605_shared_base_binds as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG605"
NAME = "shared-base-binds"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "The shared top level of an env-per-shop file binds or routes something."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if not t.is_base:
        return
    top = t.target.raw
    for key in (*BINDING_KEYS, "routes", "route"):
        value = top.get(key)
        if value in (None, [], {}):
            continue
        yield ctx.problem(t, (key,),
                          f'the shared top level has "{key}": a bare `wrangler deploy` without '
                          "--env would deploy it as a Worker of no shop; move it into the "
                          "shops' envs", at_key=True)
