"""## What it does
Checks every route a deploy target goes live on (`routes` or `route`, inherited by an env that
has neither; a string pattern or `{"pattern", "zone_name" | "zone_id", "custom_domain"}`): its
host must be one of the tenant's registered route hosts (`shops.<slug>.routes`, or its stage's;
hosts compare case-insensitively, as DNS does). A wildcard in the host (`*.shops.example/*`,
`*/*`, `*acme.shops.example/*`) is refused: it can match another shop's host, today or once
one is added. A `zone_name` must be the host's zone. A tenant with no registered routes may
not route at all.

## Why is this bad?
A route sends a host's traffic — its visitors, cookies and sessions — to this Worker.
`acme` routing `bravo.shops.example/*` takes over bravo's storefront; `*.shops.example/*`
takes every shop's that has no more specific route.

## Example
```jsonc
"routes": [{"pattern": "*.shops.example/*", "zone_name": "shops.example"}]
```

Use instead:
```jsonc
"routes": [{"pattern": "acme.shops.example", "custom_domain": true}]
// and in helm-fleet.jsonc: "shops": {"acme": {..., "routes": ["acme.shops.example"]}}
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.fleet import route_host
from helm_guard.rules._common import belongs

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg804_route_host as _this
    from helm_guard.rules.types import Prepares, TargetRule
    _: TargetRule = _this
    _prepares: Prepares = _this

ID = "HG804"
NAME = "route-host"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A route's host is not registered to the shop, or is a wildcard."


def prepare(ctx: Context) -> None:
    ctx.fleet.owner_of("route", "")  # build the registry index once, before the workers fork


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    tenant = t.tenant
    if tenant is None or target.error is not None:
        return
    routes = target.routes
    if not routes:
        return
    owner_of = ctx.fleet.owner_of
    for r in routes:  # the common case, cheaply: every host is the tenant's, no zone_name
        if type(r) is dict or isinstance(r, Mapping):
            pattern = r.get("pattern")
            if "zone_name" in r:
                break
        else:
            pattern = r
        if not isinstance(pattern, str) or owner_of("route", pattern) != tenant:
            break
    else:
        return
    yield from _problems(t, ctx, routes)


def _problems(t: TargetInfo, ctx: Context, routes: list[object]) -> Iterator[Problem]:
    target = t.target
    tenant = t.tenant
    assert tenant is not None
    fleet = ctx.fleet
    origin = target.routes_origin
    single = target.get("routes") is None  # `route`: one value, not a list
    entry = tenant.shop if tenant.stage is None else f"{tenant.shop}.stages.{tenant.stage}"
    for i, r in enumerate(routes):
        path = origin if single else origin + (i,)
        zone = None
        if isinstance(r, Mapping):
            pattern = r.get("pattern")
            zone = r.get("zone_name")
            if "pattern" in r:
                path += ("pattern",)
        else:
            pattern = r
        if not isinstance(pattern, str) or not pattern:
            yield ctx.problem(t, path, "a route without a pattern string")
            continue
        host = route_host(pattern)
        owner = fleet.owner_of("route", host)
        if owner == tenant:
            if isinstance(zone, str) and not (host == zone.lower()
                                              or host.endswith("." + zone.lower())):
                yield ctx.problem(t, path, f"route host {host!r} is not in zone_name {zone!r}")
            continue
        if "*" in host:
            yield ctx.problem(t, path, f"route {pattern!r} has a wildcard host: it can match "
                              "another shop's host; route this shop's registered hosts "
                              "exactly")
        elif owner is not None:
            yield ctx.problem(t, path, f"route host {host!r} is another shop's{belongs(owner)}")
        elif not fleet.owned(tenant).route_hosts:
            yield ctx.problem(t, path, f"route host {host!r}: {tenant.label()} has no "
                              "registered routes; if the host is this shop's alone, add "
                              f'"{host}" to "shops.{entry}.routes" in the fleet file')
        else:
            yield ctx.problem(t, path, f"route host {host!r} is not registered to "
                              f"{tenant.label()}; if it is this shop's alone, add it to "
                              f'"shops.{entry}.routes" in the fleet file')
