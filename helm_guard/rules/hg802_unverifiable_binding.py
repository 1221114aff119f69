"""## What it does
Reports bindings whose target helm-guard cannot prove belongs to the shop: `unsafe` bindings
(raw metadata passed straight to the API), and service bindings to a Worker that is neither
the shop's own (or its stage's) nor listed in the fleet's `shared.services`.

## Why is this bad?
Fail closed: what cannot be attributed to the shop may be another shop's. A service binding
to an unknown Worker can be a new shop's Worker, or a proxy to another shop's data.

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

from helm_guard.context import Context, Problem, TargetInfo

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
    own: set[str] = set()
    if t.tenant is not None:
        own.add(ctx.fleet.expected(t.tenant).worker)
        own.update(ctx.fleet.expected(type(t.tenant)(t.tenant.shop, s)).worker
                   for s in ctx.fleet.stages)
        own.add(ctx.fleet.expected(type(t.tenant)(t.tenant.shop)).worker)
    for i, b in target.indexed_bindings("services"):
        service = b.get("service")
        if not isinstance(service, str) or service in own or service in ctx.fleet.shared_services:
            continue
        if ctx.owner_of(service) is not None:
            continue  # another shop's Worker: HG801 reports it
        yield ctx.problem(t, target.origin("services") + (i, "service"),
                          f"service binding to {service!r}, which is not this shop's Worker nor "
                          'listed in the fleet\'s "shared.services"')
