"""## What it does
Reports a non-inheritable key (`d1_databases`, `r2_buckets`, `kv_namespaces`, `services`,
`vars`, ...), binding or var that the top level has and an env lacks.

## Why is this bad?
wrangler only *warns*: the env's Worker deploys silently without the binding (or with a
binding list that lost an entry), and the Worker fails at run time, or falls back to another
resource in code.

## Example
```jsonc
{"d1_databases": [{"binding": "DB", ...}], "env": {"staging": {"name": "helm-acme-staging"}}}
```

Use instead:
```jsonc
{"d1_databases": [{"binding": "DB", ...}],
 "env": {"staging": {"name": "helm-acme-staging", "d1_databases": [{"binding": "DB", ...}]}}}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.resolve import inheritance_gaps

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg701_env_inheritance_gap as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG701"
NAME = "env-inheritance-gap"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "An env lacks a non-inheritable key or binding that the top level has."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    if t.target.env is None or t.target.error is not None:
        return
    for gap in inheritance_gaps(t.target):
        yield ctx.problem(t, t.target.prefix, gap, at_key=True)
