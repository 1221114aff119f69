"""## What it does
Validates every config against wrangler's own JSON Schema (`config-schema.json`), when it is
given with `--wrangler-schema PATH` or found in the fleet's `node_modules/wrangler/`.

## Why is this bad?
wrangler's schema knows every field of the installed wrangler version; a field it does not
know is ignored at deploy time.

## Example
```jsonc
"env": {"acme": {"keep_vars": true}}
```

Use instead:
```jsonc
"keep_vars": true
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard import schemas
from helm_guard.context import ConfigFile, Context, Problem

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg202_wrangler_schema as _this
    from helm_guard.rules.types import FileRule
    _: FileRule = _this

ID = "HG202"
NAME = "wrangler-schema"
SEVERITY = "error"
SCOPE = "file"
SUMMARY = "The config does not match wrangler's own config schema."


def check(f: ConfigFile, ctx: Context) -> Iterator[Problem]:
    if ctx.wrangler_validator is None or f.doc is None or f.doc.error is not None:
        return
    for parts, message in schemas.errors(ctx.wrangler_validator, f.doc.value):
        yield Problem(f.doc, f.rel, parts, f"wrangler schema: {message}")
