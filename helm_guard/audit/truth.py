"""The audit's ONE call site of "what a tenant owns": everything the audit judges goes through
`Truth`, which asks the same functions `deploy` and `rollback` ask (`helm_guard.bindings`), so
the audit cannot disagree with them.

Switching to `bindings.judge_bindings(fleet, tenant, bindings)` / `Fleet.owned(tenant)` (branch
`keys`) changes `Truth.judge` and `Truth.hosts` only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from helm_guard import bindings as truth_bindings
from helm_guard.fleet import Fleet, Tenant


def route_host(pattern: str) -> str:
    """The host of a route pattern or registry route: `acme.shops.example/*` ->
    `acme.shops.example` (lowercased; a scheme is dropped; a `*` or port stays, so a
    wildcard is never a registered host)."""
    low = pattern.strip().lower()
    for scheme in ("https://", "http://"):
        if low.startswith(scheme):
            low = low[len(scheme):]
            break
    return low.split("/", 1)[0]


class Truth:
    """The registry's answer for each tenant, memoised for one audit run."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._index: truth_bindings.OwnerIndex | None = None
        self._hosts: dict[str, Tenant] | None = None
        self._digests: dict[Tenant, str] = {}

    def _owners(self) -> truth_bindings.OwnerIndex:
        if self._index is None:
            self._index = truth_bindings.OwnerIndex(self.fleet)
        return self._index

    def judge(self, tenant: Tenant,
              live: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str | None]]:
        """Every binding of a live version that is not the tenant's own, as (binding, message,
        other tenant): THE comparison deploy and rollback make."""
        expected = truth_bindings.expected_bindings(self.fleet, tenant.shop, tenant.stage)
        diffs = truth_bindings.compare(live, expected, self._owners())
        return [(d.binding, d.message, d.owner) for d in diffs]

    def worker(self, tenant: Tenant) -> str:
        return self.fleet.expected(tenant).worker

    def registered_hosts(self, tenant: Tenant) -> frozenset[str]:
        """The route hosts the registry gives the tenant (`routes` of the shop or stage)."""
        entry: Mapping[str, Any] = self.fleet.shops.get(tenant.shop, {})
        if tenant.stage is not None:
            entry = entry.get("stages", {}).get(tenant.stage, {})
        return frozenset(route_host(r) for r in entry.get("routes", ()) if isinstance(r, str))

    def host_owner(self, host: str) -> Tenant | None:
        if self._hosts is None:
            self._hosts = {}
            for tenant in self.fleet.tenants():
                for h in self.registered_hosts(tenant):
                    self._hosts.setdefault(h, tenant)
        return self._hosts.get(route_host(host))

    def worker_owner(self, name: str) -> Tenant | None:
        return self._owners().owner("worker", name)

    def digest(self, tenant: Tenant) -> str:
        """sha256 of everything the tenant's verdict depends on in the fleet file: its
        registry entry, the naming templates and the shared resources. A verdict cached
        against another digest is judged again."""
        found = self._digests.get(tenant)
        if found is None:
            entry = self.fleet.shops.get(tenant.shop, {})
            doc = {"tenant": [tenant.shop, tenant.stage], "entry": entry,
                   "naming": self.fleet.naming, "shared": self.fleet.data.get("shared", {})}
            text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=sorted)
            found = self._digests[tenant] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        return found
