"""## What it does
When the fleet file pins `account_id`, checks that every deploy target resolves to it
(stated, or inherited from the top level).

## Why is this bad?
A target without `account_id` deploys to whatever account the API token reaches first; one
with another id deploys into another account entirely (the config value beats
`CLOUDFLARE_ACCOUNT_ID`).

## Example
```jsonc
{"name": "helm-acme"}   // no account_id
```

Use instead:
```jsonc
{"name": "helm-acme", "account_id": "<the fleet's account id>"}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg604_account_id as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG604"
NAME = "account-id"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A deploy target does not resolve to the fleet's pinned account_id."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    pinned = ctx.fleet.account_id
    if pinned is None or t.target.error is not None:
        return
    value = t.target.get("account_id")
    if value is None or value == "":
        yield ctx.problem(t, t.target.prefix,
                          f'no account_id: this target would deploy to whatever account the '
                          f'token reaches; set "account_id": "{pinned}"')
    elif value != pinned:
        yield ctx.problem(t, t.target.origin("account_id"),
                          f"account_id is not the fleet's ({pinned})")
