"""## What it does
Checks that every deploy target's Worker name is the shop's: `naming.worker` of its slug
(default `helm-{slug}`), or `naming.stage_worker` for a stage (default `helm-{slug}-{stage}`),
as wrangler derives it (`env.X.name`, else `<top-level name>-<X>`).

## Why is this bad?
The Worker name decides which Worker a deploy replaces. A wrong name deploys one shop's code
and bindings over another shop's Worker.

## Example
```jsonc
// shops/acme/wrangler.jsonc
{"name": "helm-bravo"}
```

Use instead:
```jsonc
{"name": "helm-acme"}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._common import belongs

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg301_worker_name as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG301"
NAME = "worker-name"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "The Worker name is not the shop's."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.tenant is None or t.target.error is not None:
        return
    expected = ctx.fleet.expected(t.tenant).worker
    worker = t.target.worker
    if worker is None:
        yield ctx.problem(t, t.target.prefix,
                          f'no Worker name: set "name": "{expected}"')
    elif worker != expected:
        owner = ctx.owner_of(worker)
        derived = "" if t.target.env is None or "name" in t.target.raw else (
            f" (derived by wrangler from the top-level name and env {t.target.env!r})")
        yield ctx.problem(
            t, t.target.worker_origin,
            f"Worker name {worker!r}{derived} is not {expected!r}, the name of "
            f"{t.tenant.label()}{belongs(owner if owner != t.tenant else None)}",
        )
