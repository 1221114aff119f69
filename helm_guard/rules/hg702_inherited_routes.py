"""## What it does
Reports an env that has no `routes`/`route` of its own while the top level has routes: the env
inherits them.

## Why is this bad?
Deploying the env moves the top level's routes and custom domains to the env's Worker
(workers-sdk issue #13925): one shop's domain starts serving another Worker.

## Example
```jsonc
{"routes": [{"pattern": "acme.example.com", "custom_domain": true}], "env": {"staging": {}}}
```

Use instead:
```jsonc
{"routes": [{"pattern": "acme.example.com", "custom_domain": true}],
 "env": {"staging": {"routes": []}}}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg702_inherited_routes as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG702"
NAME = "inherited-routes"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "An env inherits the top level's routes or custom domains."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    if target.env is None or target.error is not None or t.is_base:
        return
    if "routes" in target.raw or "route" in target.raw:
        return
    if target.top.get("routes") or target.top.get("route"):
        yield ctx.problem(t, target.prefix,
                          f'env "{target.env}" inherits the top-level routes: deploying it moves '
                          'those routes/custom domains to its Worker; give it its own "routes" '
                          '(or "routes": [])', at_key=True)
