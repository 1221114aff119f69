"""## What it does
Reports a deployable target that does not resolve to exactly one registered shop: an env that
is neither a declared stage (one file per shop) nor a registered slug / `<slug>-<stage>` (one
env per shop), or a shop/stage missing from the registry.

## Why is this bad?
`wrangler deploy --env X` deploys any env of the file. A target that belongs to no registered
shop cannot be checked against the registry, so nothing proves what it binds.

## Example
```jsonc
// shops/acme/wrangler.jsonc
"env": {"prod2": {"name": "helm-acme-prod2"}}
```

Use instead:
Remove the env, or declare its stage in the fleet file's `stages` and register it under
`shops.acme.stages`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg603_unregistered_target as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG603"
NAME = "unregistered-target"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A deploy target does not resolve to exactly one registered shop."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.is_base:
        return
    where = t.target.prefix
    if t.unresolved is not None:
        yield ctx.problem(t, where, t.unresolved, at_key=bool(where))
        return
    assert t.tenant is not None
    entry = ctx.fleet.shops.get(t.tenant.shop)
    if entry is None:
        yield ctx.problem(t, where, f"shop {t.tenant.shop!r} has no entry in the fleet "
                          f"registry ({ctx.fleet.path.name} \"shops\"): register it with its "
                          "database_id", at_key=bool(where))
    elif t.tenant.stage is not None and t.tenant.stage not in entry.get("stages", {}):
        yield ctx.problem(t, where, f"stage {t.tenant.stage!r} of shop {t.tenant.shop!r} is not "
                          f'registered: add it under "shops.{t.tenant.shop}.stages"',
                          at_key=True)
