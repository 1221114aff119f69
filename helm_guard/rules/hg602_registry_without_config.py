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
from typing import TYPE_CHECKING

from helm_guard.context import ConfigFile, Context, Problem
from helm_guard.fleet import Tenant

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg602_registry_without_config as _this
    from helm_guard.rules.types import SummarizingFleetRule
    _: SummarizingFleetRule = _this

ID = "HG602"
NAME = "registry-without-config"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = "A registered shop (or stage) has no deploy target in any config."


UNKNOWN = "*"  # a config that cannot be read or parsed: which tenants it deploys is unknown


def collect(f: ConfigFile, ctx: Context) -> Iterator[Tenant]:
    if f.doc is None or f.doc.error is not None:
        # HG101/HG103 report the file: one cause, one finding. Its shop (a shop-per-file
        # config) or every shop (an env-per-shop file) is not reported missing as well.
        yield Tenant(f.entry.slug or UNKNOWN, UNKNOWN)
        return
    for t in f.targets:
        if t.tenant is not None:
            yield t.tenant


def summarize(tenants: list[Tenant]) -> set[tuple[str, str | None]]:
    """Plain tuples (a `Tenant` is one, and hashes alike): cheaper to send back."""
    return {(shop, stage) for shop, stage in tenants}


def check(ctx: Context, collected: list[set[tuple[str, str | None]]]) -> Iterator[Problem]:
    seen = set().union(*collected)
    if (UNKNOWN, UNKNOWN) in seen:
        return
    shops = ctx.fleet.shops
    # every registered tenant as a plain tuple, minus those deployed: set operations in C, so
    # only the missing ones (none, in a healthy fleet) cost Python work
    registered = {(slug, None) for slug in shops}
    registered.update((slug, stage) for slug, entry in shops.items()
                      for stage in (entry.get("stages") or ()))
    missing = registered - seen
    if not missing:
        return
    rel = ctx.fleet.path.name
    for tenant in ctx.fleet.tenants():  # in registry order
        if (tenant.shop, tenant.stage) not in missing or (tenant.shop, UNKNOWN) in seen:
            continue
        parts: tuple[str, ...] = ("shops", tenant.shop)
        if tenant.stage is not None:
            parts += ("stages", tenant.stage)
        yield Problem(ctx.fleet_doc, rel, parts,
                      f"{tenant.label()} is registered but no config deploys it",
                      shop=tenant.shop, at_key=True)
