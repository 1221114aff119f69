"""## What it does
Reports bindings whose target helm-guard cannot prove belongs to the shop: `unsafe` bindings
(raw metadata passed straight to the API), service bindings to a Worker that is neither the
tenant's own (for a stage: the stage's Worker) nor listed in the fleet's `shared.services`
(names compare exactly, as Cloudflare compares them: `Helm-Auth` is not `helm-auth`), and
service bindings with an `environment` (legacy service environments are not modelled), and
`props` (read by the Worker bound, usually a shared one) that name another shop by its
slug (`{"shop": "bravo"}`).

## Why is this bad?
Fail closed: what cannot be attributed to the shop may be another shop's. A service binding
to another shop's Worker reaches its data; one to an unknown Worker can be a new shop's
Worker, or a proxy to another shop's data. A shared Worker reads `ctx.props` as facts the
deployer vouched for (typically who the caller is): acme passing `{"shop": "bravo"}` to the
shared auth service is acme claiming to be bravo. (Other shops' resource names in props are
HG801's.)

## Example
```jsonc
"services": [{"binding": "AUTH", "service": "auth-proxy"}]
```

Use instead:
List the Worker in `helm-fleet.jsonc` under `"shared": {"services": ["auth-proxy"]}` after
review.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.jsonc import JsonPath
from helm_guard.rules._common import worker_reference

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg802_unverifiable_binding as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG802"
NAME = "unverifiable-binding"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A binding points at something helm-guard cannot attribute to the shop."


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    if target.error is not None or (t.tenant is None and not t.is_base):
        return
    if target.get("unsafe") is not None:
        yield ctx.problem(t, target.origin("unsafe"),
                          '"unsafe" bindings are passed to Cloudflare unchecked; helm-guard '
                          "cannot prove what they bind", at_key=True)
    if t.tenant is None:
        return  # the shared base of an env-per-shop file binds nothing: HG605
    origin = target.origin("services")
    for i, b in target.indexed_bindings("services"):
        why = worker_reference(ctx, t, b.get("service"))
        if why is not None:
            yield ctx.problem(t, origin + (i, "service"), f"service binding: {why}")
        elif "environment" in b:
            yield ctx.problem(t, origin + (i, "environment"),
                              "service binding with an \"environment\": legacy service "
                              "environments are not modelled by helm-guard; remove it")
        elif "props" in b:
            for parts, slug in _slugs(b["props"], origin + (i, "props")):
                if slug != t.tenant.shop and slug in ctx.fleet.shops:
                    yield ctx.problem(t, parts, f"service binding props name shop {slug!r}: "
                                      f"{b.get('service')!r} would take this Worker for "
                                      "that shop; a shop may only name itself")
                    break


def _slugs(value: object, parts: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    """Every string in `value` (keys included) that could be a slug, lowercased, with its
    path: `" Bravo "` and `{"bravo": true}` claim bravo as much as `"bravo"` does."""
    if isinstance(value, str):
        yield parts, value.strip().lower()
    elif isinstance(value, dict):
        for k, v in value.items():
            yield parts + (k,), str(k).strip().lower()
            yield from _slugs(v, parts + (k,))
    elif isinstance(value, list):
        for j, v in enumerate(value):
            yield from _slugs(v, parts + (j,))
