"""The routes area of the emulator: zones, Worker routes per zone, Workers custom domains
(what `helm-guard audit` reads to find which hosts a Worker serves).

| method | path | notes |
|---|---|---|
| GET | /zones?account.id=...&page&per_page | paged (`result_info.total_pages`) |
| GET | /zones/{zone}/workers/routes | `[{"id", "pattern", "script"}]`, one page (as the API) |
| GET | /accounts/{a}/workers/domains | `[{"id", "hostname", "service", "environment", ...}]` |

Set up with the Python helpers `add_zone`, `add_route`, `add_custom_domain` (*emu*: no
create/delete endpoints; wrangler's own route publishing is not emulated here).
"""

from __future__ import annotations

import copy
import math
import re
import uuid
from typing import Any

from helm_guard.emulator.core import ApiError, EmulatorCore, EmulatorError, Route, Router


class RoutesArea(EmulatorCore):
    """Zones, zone Worker routes and account custom domains."""

    def _init_area(self) -> None:
        super()._init_area()
        self._zones: dict[str, dict[str, Any]] = {}  # id -> {"id", "name", "account"}
        self._zone_routes: dict[str, list[dict[str, Any]]] = {}
        self._domains: list[dict[str, Any]] = []

    def _account_routers(self) -> list[Router]:
        return [*super()._account_routers(), self._route_domains]

    def _global_routers(self) -> list[Router]:
        return [*super()._global_routers(), self._route_zones]

    # ------------------------------------------------------------------ helpers
    def add_zone(self, name: str) -> str:
        """Create zone `name` (e.g. `shops.example`); returns its id."""
        with self._lock:
            for zone in self._zones.values():
                if zone["name"] == name:
                    return str(zone["id"])
            zid = uuid.uuid4().hex
            self._zones[zid] = {"id": zid, "name": name, "status": "active",
                                "account": {"id": self.account_id}}
            self._zone_routes[zid] = []
            return zid

    def _zone_for(self, host: str) -> str:
        for zid, zone in self._zones.items():
            if host == zone["name"] or host.endswith("." + zone["name"]):
                return zid
        raise EmulatorError(f"no zone for host {host!r}: add_zone() first")

    def add_route(self, pattern: str, script: str | None) -> str:
        """Route `pattern` (`acme.shops.example/*`) to `script` in the zone of its host."""
        with self._lock:
            zid = self._zone_for(pattern.split("/", 1)[0].lstrip("*."))
            rid = uuid.uuid4().hex
            self._zone_routes[zid].append({"id": rid, "pattern": pattern, "script": script})
            return rid

    def add_custom_domain(self, hostname: str, service: str,
                          environment: str = "production") -> str:
        """Attach custom domain `hostname` to Worker `service`."""
        with self._lock:
            zid = self._zone_for(hostname)
            did = uuid.uuid4().hex
            self._domains = [d for d in self._domains if d["hostname"] != hostname]
            self._domains.append({"id": did, "hostname": hostname, "service": service,
                                  "environment": environment, "zone_id": zid,
                                  "zone_name": self._zones[zid]["name"]})
            return did

    # ------------------------------------------------------------------ routing
    def _route_domains(self, method: str, sub: str, query: dict[str, str], body: Any,
                       user_agent: str) -> Route | None:
        if method == "GET" and sub == "/workers/domains":
            return 200, copy.deepcopy(self._domains), {}
        return None

    def _route_zones(self, method: str, rel: str, query: dict[str, str], body: Any,
                     user_agent: str) -> Route | None:
        if method == "GET" and rel == "/zones":
            zones = [z for z in self._zones.values()
                     if query.get("account.id") in (None, self.account_id)]
            per_page = max(1, min(int(query.get("per_page") or 20), 50))
            page = max(1, int(query.get("page") or 1))
            items = zones[(page - 1) * per_page: page * per_page]
            total_pages = max(1, math.ceil(len(zones) / per_page))
            info = {"page": page, "per_page": per_page, "count": len(items),
                    "total_count": len(zones), "total_pages": total_pages}
            return 200, copy.deepcopy(items), {"result_info": info}
        m = re.fullmatch(r"/zones/([^/]+)/workers/routes", rel)
        if m and method == "GET":
            if m.group(1) not in self._zone_routes:
                raise ApiError(404, 7003, "Could not route to /zones, perhaps your object "
                               "identifier is invalid?")
            return 200, copy.deepcopy(self._zone_routes[m.group(1)]), {}
        return None
