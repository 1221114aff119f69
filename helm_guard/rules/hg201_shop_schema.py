"""## What it does
Validates every config against helm-guard's shop-config schema
(`schemas/helm-shop-config.schema.json`): known wrangler keys only, binding entries with known
fields of the right types, no top-level-only keys inside `env`.

## Why is this bad?
wrangler only *warns* about an unknown key and then ignores it: a typo such as `databse_id` or
`d1_database` deploys a Worker without the binding, or lets wrangler auto-provision a
database. An unknown binding type is one helm-guard cannot prove belongs to the shop.

## Example
```jsonc
"d1_databases": [{"binding": "DB", "database_name": "helm-acme-db", "databse_id": "…"}]
```

Use instead:
```jsonc
"d1_databases": [{"binding": "DB", "database_name": "helm-acme-db", "database_id": "…"}]
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard import schemas
from helm_guard.context import ConfigFile, Context, Problem

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg201_shop_schema as _this
    from helm_guard.rules.types import FileRule
    _: FileRule = _this

ID = "HG201"
NAME = "shop-schema"
SEVERITY = "error"
SCOPE = "file"
SUMMARY = "The config does not match the Helm shop-config schema."


def check(f: ConfigFile, ctx: Context) -> Iterator[Problem]:
    if f.doc is None or f.doc.error is not None:
        return
    for parts, message in schemas.validate("helm-shop-config", f.doc.value):
        yield Problem(f.doc, f.rel, parts, f"schema: {message}")
