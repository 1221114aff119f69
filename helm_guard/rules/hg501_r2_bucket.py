"""## What it does
Checks that every deploy target of a shop binds an R2 bucket, and that each R2 binding has a
`bucket_name` equal to the shop's (`naming.r2`, default `helm-{slug}-assets`).

## Why is this bad?
Without `bucket_name`, wrangler auto-provisions or reuses a bucket by a derived name; with
another shop's name the Worker serves and overwrites that shop's files and backups.

## Example
```jsonc
"r2_buckets": [{"binding": "ASSETS", "bucket_name": "helm-bravo-assets"}]
```

Use instead:
```jsonc
"r2_buckets": [{"binding": "ASSETS", "bucket_name": "helm-acme-assets"}]
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._common import belongs, foreign

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg501_r2_bucket as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG501"
NAME = "r2-bucket"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "An R2 binding's bucket_name is missing or not the shop's, or the shop binds no R2."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.tenant is None or t.target.error is not None:
        return
    expected = ctx.fleet.expected(t.tenant).bucket_name
    origin = t.target.origin("r2_buckets")
    bindings = list(t.target.indexed_bindings("r2_buckets"))
    if not bindings:
        yield ctx.problem(t, t.target.prefix,
                          f"{t.tenant.label()} binds no R2 bucket: add "
                          f'"r2_buckets": [{{"binding": "ASSETS", "bucket_name": "{expected}"}}] '
                          "(envs do not inherit it)")
    for i, b in bindings:
        name = b.get("bucket_name")
        if name is None:
            yield ctx.problem(t, origin + (i,),
                              f'R2 binding {b.get("binding")!r} has no "bucket_name": wrangler '
                              f"would auto-provision or reuse a bucket; set {expected!r}")
        elif name != expected:
            yield ctx.problem(t, origin + (i, "bucket_name"),
                              f"R2 bucket_name {name!r} is not {expected!r}"
                              f"{belongs(foreign(ctx, t, name))}")
