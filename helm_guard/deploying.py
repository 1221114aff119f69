"""What `deploy` and `rollback` share: the one judge of a version, the wrangler to run, who acts,
where the state lives, and how a difference is explained.

Commands import this library (never the reverse): `commands/deploy.py`, `commands/rollback.py`
and the steps in `helm_guard.rollback` all judge a Cloudflare version with `judge`, so a
binding the registry lists is accepted everywhere and one it does not list is refused
everywhere, with the same message and the same fix (`check` applies the same registry record,
`Fleet.owned`, to the config side).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from helm_guard.bindings import Mismatch, describe, judge_bindings, other_shops
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.errors import UsageError
from helm_guard.fleet import Fleet, Tenant, route_host

#: Attachments of a Worker that are not bindings but reach another Worker: judged like one.
TAIL_TYPES = ("tail_consumer", "streaming_tail_consumer")


def judge(fleet: Fleet, tenant: Tenant, bindings: Iterable[Mapping[str, Any]]) -> list[Mismatch]:
    """THE judge of a Cloudflare version for deploy and rollback: every way `bindings` (API
    shape, plus tail consumers as `{"type": "tail_consumer", "service": ...}`) differ from
    what `tenant` owns; [] = all its own. Any binding type helm-guard does not model is a
    difference (fail closed). One call: `bindings.judge_bindings`, over `Fleet.owned`, the
    record `check` applies to the config side."""
    return judge_bindings(fleet, tenant, [
        {**b, "type": "tail_consumer"} if b.get("type") in TAIL_TYPES else b for b in bindings
    ])


def tail_bindings(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Worker's tail consumers (script settings or a config) as judge-able entries."""
    out: list[dict[str, Any]] = []
    for key, kind in (("tail_consumers", "tail_consumer"),
                      ("streaming_tail_consumers", "streaming_tail_consumer")):
        raw = settings.get(key)
        if raw is None:
            continue
        items = raw if isinstance(raw, list) else [raw]
        for i, item in enumerate(items):
            service = item.get("service") if isinstance(item, Mapping) else None
            out.append({"name": f"{key}[{i}]", "type": kind, "service": service})
    return out


# ---------------------------------------------------------------------- shared helpers
def remote_of(fleet: Fleet, explicit: str | None) -> str:
    """`--remote`, else the fleet file's `state.remote`, else origin."""
    remote = explicit or (fleet.data.get("state") or {}).get("remote") or "origin"
    if remote.startswith("-") or not remote.strip():
        raise UsageError(f"--remote {remote!r} is not a remote name")
    return str(remote)


def make_wrangler(args: argparse.Namespace, fleet: Fleet) -> Wrangler:
    """The wrangler to run, from `--wrangler`/`$HELM_GUARD_WRANGLER`/the fleet root."""
    return Wrangler(args.wrangler, fleet_root=fleet.root, timeout=args.wrangler_timeout)


def actor(repo: Path) -> str:
    """Who is acting: `$GITHUB_ACTOR` in CI, else the git identity."""
    from helm_guard import gitio

    if os.environ.get("GITHUB_ACTOR"):
        return f"{os.environ['GITHUB_ACTOR']} (GitHub Actions)"
    try:
        return gitio.identity(repo)
    except gitio.GitError:
        return "unknown"


def safe_bindings(bindings: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Bindings reduced to name, type and the identity they point at: what the ledger and
    the screen may show (no var values, and secrets never carry values anyway)."""
    return [{"name": str(b.get("name")), "type": str(b.get("type")), "points_at": describe(b)}
            for b in bindings]


def explain(diffs: list[Mismatch], shop: str) -> str:
    """The differences as lines, ending with the other shops involved."""
    lines = [f"  - {d.message}" for d in diffs]
    others = other_shops(diffs, shop)
    if others:
        lines.append(f"  other shop(s) involved: {', '.join(others)}")
    return "\n".join(lines)


def judge_attachments(fleet: Fleet, tenant: Tenant, settings: Mapping[str, Any],
                      domains: Iterable[Mapping[str, Any]]) -> list[Mismatch]:
    """What is attached to the tenant's Worker besides its bindings: tail consumers (script
    settings) and custom domains. [] = all its own; anything unmodelled is a difference."""
    diffs = [d for d in judge(fleet, tenant, tail_bindings(settings))
             if d.type not in ("d1", "r2_bucket")]
    owned = fleet.owned(tenant)
    for d in domains:
        host = d.get("hostname")
        if isinstance(host, str) and owned.allows_route_host(route_host(host)):
            continue
        owner = fleet.owner_of("route", host)
        whose = f"shop {owner.label()}'s host" if owner else "a host no shop registers"
        diffs.append(Mismatch(
            str(host), "custom_domain", str(host), ", ".join(sorted(owned.route_hosts)) or "(none)",
            owner.label() if owner else None,
            f"custom domain {host} ({whose}) is attached to {fleet.expected(tenant).worker}; "
            f"add it to the registry's routes of shop {tenant.label()} or detach it"))
    return diffs
