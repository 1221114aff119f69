"""## What it does
Fleet-wide: reports a registry entry (`shops.<slug>`, or a stage of it) that no deploy target
of any config file resolves to.

## Why is this bad?
A shop the registry knows but no config deploys is either a deleted config (its Worker still
runs with whatever was last deployed) or a misnamed folder/env, which then fails elsewhere.

## Example
```jsonc
"shops": {"acme": {...}, "bravo": {...}}   // but there is no shops/bravo/wrangler.jsonc
```

Use instead:
Add the shop's config, or remove the shop from the registry when it is decommissioned.
"""

from __future__ import annotations

from collections.abc import Iterator

from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.fleet import Tenant

ID = "HG602"
NAME = "registry-without-config"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = "A registered shop (or stage) has no deploy target in any config."


def collect(f: ConfigFile, ctx: Context) -> Iterator[Tenant]:
    for t in f.targets:
        if t.tenant is not None:
            yield t.tenant


def summarize(tenants: list[Tenant]) -> set[tuple[str, str | None]]:
    """Plain tuples (a `Tenant` is one, and hashes alike): cheaper to send back."""
    return {(shop, stage) for shop, stage in tenants}


def check(ctx: Context, collected: list[set[tuple[str, str | None]]]) -> Iterator[Problem]:
    seen = set().union(*collected)
    rel = ctx.fleet.path.name
    for tenant in ctx.fleet.tenants():
        if tenant in seen:
            continue
        parts: tuple[str, ...] = ("shops", tenant.shop)
        if tenant.stage is not None:
            parts += ("stages", tenant.stage)
        yield Problem(ctx.fleet_doc, rel, parts,
                      f"{tenant.label()} is registered but no config deploys it",
                      shop=tenant.shop, at_key=True)
