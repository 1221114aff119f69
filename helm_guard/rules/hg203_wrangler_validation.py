"""## What it does
Reports a deploy target that wrangler's own validation refuses (for example a KV namespace
with an empty `id`, an invalid Worker name, an invalid R2 bucket name, both `route` and
`routes`).

## Why is this bad?
wrangler stops with an error for this target; helm-guard reports it before anyone tries.

## Example
```jsonc
"kv_namespaces": [{"binding": "CACHE", "id": ""}]
```

Use instead:
```jsonc
"kv_namespaces": [{"binding": "CACHE", "id": "0f2ac74b498b48028cb68387c421e279"}]
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg203_wrangler_validation as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG203"
NAME = "wrangler-validation"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "wrangler's own validation refuses this deploy target."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.target.error is not None:
        detail = t.target.error.split("\n", 2)[-1].strip()
        yield ctx.problem(t, t.target.error_path, f"wrangler would refuse this target: {detail}")
