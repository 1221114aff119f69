"""The emulated Cloudflare an operator rehearses on (`helm-guard emulator --seed-fleet`): every
deploy target of the fleet that belongs to a registered shop gets its Worker with one version,
bound as its config says, deployed at 100% — a clean fleet, live, on 127.0.0.1 — and every
registered route host lies in a zone of the account (`seed_zones`), as on a real account where
the shops' hosts are served."""

from __future__ import annotations

from typing import Any, NamedTuple

from helm_guard.context import load_files
from helm_guard.emulator import CloudflareEmulator
from helm_guard.fleet import Fleet
from helm_guard.resolve import Target


class Seeded(NamedTuple):
    tenant: str
    worker: str
    version_id: str


def target_bindings(target: Target) -> list[dict[str, Any]]:
    """The bindings `wrangler deploy` would upload for `target` (the kinds helm-guard judges),
    in the API's shape."""
    out: list[dict[str, Any]] = []
    for b in target.bindings("d1_databases"):
        out.append({"type": "d1", "name": b.get("binding"), "id": b.get("database_id")})
    for b in target.bindings("r2_buckets"):
        out.append({"type": "r2_bucket", "name": b.get("binding"),
                    "bucket_name": b.get("bucket_name")})
    for b in target.bindings("kv_namespaces"):
        out.append({"type": "kv_namespace", "name": b.get("binding"), "namespace_id": b.get("id")})
    for b in target.bindings("services"):
        out.append({"type": "service", "name": b.get("binding"), "service": b.get("service")})
    return out


def seed_zones(emu: CloudflareEmulator, fleet: Fleet) -> list[str]:
    """A zone for every registered route host of the fleet (its last two labels, e.g.
    `shops.example` for `acme.shops.example`), as the account would hold them; returns the
    zone names. `helm-guard deploy` reads each host's zone back and blocks without one."""
    names: set[str] = set()
    for tenant in fleet.tenants():
        for host in fleet.owned(tenant).route_hosts:
            labels = host.split(".")
            if len(labels) >= 2 and "*" not in host:
                names.add(".".join(labels[-2:]))
    for name in sorted(names):
        emu.add_zone(name)
    return sorted(names)


def seed_fleet(emu: CloudflareEmulator, fleet: Fleet) -> list[Seeded]:
    """Deploy one version per tenant target of `fleet` on `emu`; targets without a tenant, with
    a resolution error or without a Worker name are left out (`helm-guard check` reports them)."""
    seeded: list[Seeded] = []
    seed_zones(emu, fleet)
    for f in load_files(fleet):
        for t in f.targets:
            worker = t.target.worker if t.target.error is None else None
            if t.tenant is None or worker is None:
                continue
            vid = emu.seed_version(worker, target_bindings(t.target), deploy=True,
                                   message=f"seeded from {f.rel} by helm-guard emulator")
            seeded.append(Seeded(t.tenant.label(), worker, vid))
    return seeded
