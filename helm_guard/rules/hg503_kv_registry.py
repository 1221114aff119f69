"""## What it does
Checks every KV namespace a deploy target binds (`kv_namespaces[].id` and `preview_id`)
against the registry: the id must be listed in the tenant's own `kv_namespaces`
(`shops.<slug>.kv_namespaces`, or its stage's) or in the fleet's `shared.kv_namespaces`. The
registry is the truth: an id the configs give to one shop alone but the registry does not
list is a finding that says exactly what to add. A binding without an `id` is refused too
(wrangler would provision a namespace nobody registered).

## Why is this bad?
`check`, `deploy`, `rollback` and `audit` must agree on what a shop owns. If `check` passed a
namespace the registry does not list, `deploy` would then block the shop and `rollback` would
refuse its correct version; and a namespace id that is nobody's in the registry may well be
another shop's.

## Example
```jsonc
"kv_namespaces": [{"binding": "CACHE", "id": "0f2ac74b498b48028cb68387c421e279"}]
// helm-fleet.jsonc: "acme": {"database_id": "..."}     (no kv_namespaces)
```

Use instead:
```jsonc
// helm-fleet.jsonc
"acme": {"database_id": "...", "kv_namespaces": ["0f2ac74b498b48028cb68387c421e279"]}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._common import belongs

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg503_kv_registry as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG503"
NAME = "kv-registry"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A KV namespace id is not registered to the shop (or shared)."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    tenant = t.tenant
    if tenant is None or target.error is not None:
        return
    bindings = target.indexed_bindings("kv_namespaces")
    if not bindings:
        return
    owned = ctx.fleet.owned(tenant)
    origin = target.origin("kv_namespaces")
    entry = tenant.shop if tenant.stage is None else f"{tenant.shop}.stages.{tenant.stage}"
    for i, b in bindings:
        if "id" not in b:
            yield ctx.problem(t, origin + (i,), "KV binding without an \"id\": wrangler would "
                              "provision a namespace no registry lists; create it, register "
                              f'it in "shops.{entry}.kv_namespaces" and bind its id')
        for field in ("id", "preview_id"):
            if field not in b:
                continue
            value = b[field]
            if owned.allows_kv(value):
                continue
            owner = ctx.fleet.owner_of("kv", value)
            if owner is not None and owner != tenant:
                yield ctx.problem(t, origin + (i, field), f"KV namespace {value!r} is another "
                                  f"shop's{belongs(owner)}")
            else:
                yield ctx.problem(t, origin + (i, field),
                                  f"KV namespace {value!r} is not registered to "
                                  f"{tenant.label()}: the registry is the truth; if it is this "
                                  f'shop\'s alone, add it to "shops.{entry}.kv_namespaces" in '
                                  "the fleet file (or to \"shared.kv_namespaces\" if every "
                                  "shop may bind it)")
