"""## What it does
Checks that every deploy target of a shop binds a D1 database, and that each D1 binding's
`database_name` is the shop's (`naming.d1`, default `helm-{slug}-db`).

## Why is this bad?
`database_name` is what `wrangler d1 execute`, migrations and auto-provisioning use: a wrong
name sends an operator's `DELETE` to another shop's data. wrangler never checks the name
against the id. A shop target without its D1 binding deploys a Worker that cannot reach its
data (the inheritance trap: envs do not inherit `d1_databases`).

## Example
```jsonc
// shops/acme/wrangler.jsonc
"d1_databases": [{"binding": "DB", "database_name": "helm-bravo-db", "database_id": "…"}]
```

Use instead:
```jsonc
"d1_databases": [{"binding": "DB", "database_name": "helm-acme-db", "database_id": "…"}]
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._common import belongs, foreign

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg401_d1_database_name as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG401"
NAME = "d1-database-name"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A D1 binding's database_name is not the shop's, or the shop binds no D1."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.tenant is None or t.target.error is not None:
        return
    expected = ctx.fleet.expected(t.tenant).database_name
    origin = t.target.origin("d1_databases")
    bindings = list(t.target.indexed_bindings("d1_databases"))
    if not bindings:
        yield ctx.problem(t, t.target.prefix,
                          f"{t.tenant.label()} binds no D1 database: add "
                          f'"d1_databases": [{{"binding": "DB", "database_name": "{expected}", '
                          f'"database_id": "<from the registry>"}}] (envs do not inherit it)')
        return
    for i, b in bindings:
        name = b.get("database_name")
        if name is None:
            yield ctx.problem(t, origin + (i,),
                              f'D1 binding {b.get("binding")!r} has no "database_name"; '
                              f"expected {expected!r}")
        elif name != expected:
            yield ctx.problem(t, origin + (i, "database_name"),
                              f"D1 database_name {name!r} is not {expected!r}"
                              f"{belongs(foreign(ctx, t, name))}")
