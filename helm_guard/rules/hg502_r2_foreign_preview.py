"""## What it does
Checks an R2 binding's `preview_bucket_name`: it must not be another shop's bucket.

## Why is this bad?
Preview and `wrangler dev --remote` traffic would read and write another shop's files.

## Example
```jsonc
{"binding": "ASSETS", "bucket_name": "helm-acme-assets", "preview_bucket_name": "helm-bravo-assets"}
```

Use instead:
```jsonc
{"binding": "ASSETS", "bucket_name": "helm-acme-assets", "preview_bucket_name": "helm-acme-preview"}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._common import belongs, foreign

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg502_r2_foreign_preview as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG502"
NAME = "r2-foreign-preview"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "An R2 preview_bucket_name belongs to another shop."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.tenant is None or t.target.error is not None:
        return
    origin = t.target.origin("r2_buckets")
    for i, b in t.target.indexed_bindings("r2_buckets"):
        other = foreign(ctx, t, b.get("preview_bucket_name"))
        if other is not None:
            yield ctx.problem(t, origin + (i, "preview_bucket_name"),
                              f"R2 preview_bucket_name is not {t.tenant.label()}'s"
                              f"{belongs(other)}")
