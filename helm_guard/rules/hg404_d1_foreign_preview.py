"""## What it does
Checks a D1 binding's `preview_database_id`: it must not be another shop's database (nor a
production database of another stage), and must equal the registry's `preview_database_id`
when the registry names one.

## Why is this bad?
`wrangler dev --remote` and preview deployments use the preview id: pointing it at another
shop's database writes test traffic into that shop's books.

## Example
```jsonc
{"binding": "DB", "database_id": "<acme's id>", "preview_database_id": "<bravo's id>"}
```

Use instead:
```jsonc
{"binding": "DB", "database_id": "<acme's id>", "preview_database_id": "<acme's preview id>"}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._common import belongs, foreign

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg404_d1_foreign_preview as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG404"
NAME = "d1-foreign-preview"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A D1 preview_database_id belongs to another shop or differs from the registry."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.tenant is None or t.target.error is not None:
        return
    registered = ctx.fleet.expected(t.tenant).preview_database_id
    origin = t.target.origin("d1_databases")
    for i, b in t.target.indexed_bindings("d1_databases"):
        value = b.get("preview_database_id")
        if not isinstance(value, str):
            continue
        other = foreign(ctx, t, value)
        if other is not None:
            yield ctx.problem(t, origin + (i, "preview_database_id"),
                              f"D1 preview_database_id is not {t.tenant.label()}'s"
                              f"{belongs(other)}")
        elif registered is not None and value.lower() != registered:
            yield ctx.problem(t, origin + (i, "preview_database_id"),
                              f"D1 preview_database_id does not match the registry "
                              f"({registered})")
