"""The audit's ONE call site of "what a tenant owns": everything the audit judges goes through
`Truth`, which asks exactly what `deploy` and `rollback` ask: `bindings.judge_bindings` for a
version's bindings and `Fleet.owned` / `Fleet.owner_of` for Workers and route hosts, and
`hosts.judge_hosts` for routes and custom domains, and
`secrets_policy.missing_secrets` (the check `deploy` makes before activation), so the audit
cannot disagree with them (`tests/test_audit.py` holds it to `judge_bindings`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from helm_guard.bindings import OwnerIndex, judge_bindings
from helm_guard.fleet import Fleet, Tenant, route_host
from helm_guard.hosts import HostProblem, Served, judge_hosts
from helm_guard.secrets_policy import describe_missing, missing_secrets, required_secrets

__all__ = ["Truth", "route_host"]


class Truth:
    """The registry's answer for each tenant, memoised for one audit run."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self._index: OwnerIndex | None = None
        self._digests: dict[Tenant, str] = {}

    def judge(self, tenant: Tenant,
              live: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str | None]]:
        """Every binding of a live version that is not the tenant's own, as (binding, message,
        other tenant): THE judgement deploy and rollback make."""
        bindings = list(live)
        missing = missing_secrets(self.fleet, tenant, bindings)  # deploy's check (issue 15)
        return [(m.binding, m.message, m.owner)
                for m in judge_bindings(self.fleet, tenant, bindings)] + [
            (name, f"required secret {line}", None)
            for name, line in zip(missing, describe_missing(missing, bindings), strict=True)]

    def worker(self, tenant: Tenant) -> str:
        return self.fleet.owned(tenant).worker

    def registered_hosts(self, tenant: Tenant) -> frozenset[str]:
        """The route hosts the registry gives the tenant."""
        return self.fleet.owned(tenant).route_hosts

    def judge_hosts(self, tenant: Tenant, served: Iterable[Served]) -> list[HostProblem]:
        """Routes and custom domains that are not the tenant's own: THE judgement deploy's
        read-back makes (`hosts.judge_hosts`)."""
        return judge_hosts(self.fleet, tenant, served)

    def host_owner(self, host: str) -> Tenant | None:
        return self.fleet.owner_of("route", host)

    def worker_owner(self, name: str) -> Tenant | None:
        if self._index is None:
            self._index = OwnerIndex(self.fleet)
        return self._index.owner("worker", name)

    def digest(self, tenant: Tenant) -> str:
        """sha256 of everything the tenant's verdict depends on in the fleet file: its
        registry entry, the naming templates and the shared resources. A verdict cached
        against another digest is judged again."""
        found = self._digests.get(tenant)
        if found is None:
            entry = self.fleet.shops.get(tenant.shop, {})
            doc = {"tenant": [tenant.shop, tenant.stage], "entry": entry,
                   "naming": self.fleet.naming, "shared": self.fleet.data.get("shared", {}),
                   "secrets": list(required_secrets(self.fleet, tenant))}
            text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=sorted)
            found = self._digests[tenant] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
        return found
