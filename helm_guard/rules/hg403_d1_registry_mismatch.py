"""## What it does
Checks every D1 `database_id` against the fleet registry (`shops.<slug>.database_id` in
`helm-fleet.jsonc`), the source of truth.

## Why is this bad?
The Worker binds the **id**, not the name. A config can carry all the right names while the
id points at another shop's database: only the registry catches that.

## Example
```jsonc
// shops/acme/wrangler.jsonc: correct name, bravo's id
{"binding": "DB", "database_name": "helm-acme-db", "database_id": "<bravo's id>"}
```

Use instead:
```jsonc
{"binding": "DB", "database_name": "helm-acme-db", "database_id": "<acme's id from the registry>"}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg403_d1_registry_mismatch as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG403"
NAME = "d1-registry-mismatch"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A D1 database_id differs from the shop's id in the fleet registry."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.tenant is None or t.target.error is not None:
        return
    expected = ctx.fleet.expected(t.tenant).database_id
    if expected is None:
        return  # no registry entry: HG603 reports it
    origin = t.target.origin("d1_databases")
    for i, b in t.target.indexed_bindings("d1_databases"):
        value = b.get("database_id")
        if isinstance(value, str) and value.lower() != expected:
            other = ctx.owner_of(value)
            whose = ("no shop in the registry has that id" if other is None else
                     f"another database of {other.label()}, not its database_id"
                     if other == t.tenant else
                     f"it belongs to shop {other.shop!r}" if other.stage is None else
                     f"it belongs to shop {other.shop!r}, stage {other.stage!r}")
            yield ctx.problem(
                t, origin + (i, "database_id"),
                f"D1 database_id does not match the registry for {t.tenant.label()}: found "
                f"{value} ({whose}), expected {expected} ({t.tenant.label()}'s, from the "
                "registry)")
