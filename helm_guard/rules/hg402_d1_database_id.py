"""## What it does
Checks that every D1 binding has a `database_id` and that it is a UUID, and that it has no
`database_internal_env` (an undocumented field wrangler 4.86 uploads as the binding's
`internalEnv`: which database it then reaches is not modelled, so it is refused).

## Why is this bad?
Without `database_id`, `wrangler deploy` silently *provisions*: it inherits the binding of the
deployed Worker, or uses an existing database **of that name** in the account, or creates one
(see `--x-provision`). The name alone can therefore land on another shop's database.

## Example
```jsonc
"d1_databases": [{"binding": "DB", "database_name": "helm-acme-db"}]
```

Use instead:
```jsonc
"d1_databases": [{"binding": "DB", "database_name": "helm-acme-db",
                  "database_id": "6f1e2b9c-3a4d-4e5f-8a7b-9c0d1e2f3a4b"}]
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.fleet import UUID_RE

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg402_d1_database_id as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG402"
NAME = "d1-database-id"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A D1 binding's database_id is missing or not a UUID."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.target.error is not None or (t.tenant is None and not t.is_base):
        return
    origin = t.target.origin("d1_databases")
    for i, b in t.target.indexed_bindings("d1_databases"):
        if "database_internal_env" in b:
            yield ctx.problem(t, origin + (i, "database_internal_env"),
                              'D1 "database_internal_env" is uploaded as the binding\'s '
                              "internalEnv, which helm-guard does not model: remove it")
        for field in ("database_id", "preview_database_id"):
            value = b.get(field)
            if value is None:
                if field == "database_id":
                    yield ctx.problem(
                        t, origin + (i,),
                        f'D1 binding {b.get("binding")!r} has no "database_id": wrangler would '
                        "auto-provision or look the database up by name; set the id from the "
                        "registry")
            elif not isinstance(value, str) or not UUID_RE.match(value):
                yield ctx.problem(t, origin + (i, field),
                                  f"D1 {field} is not a lowercase UUID")
