"""The routes area of the emulator: zones, Worker routes per zone, Workers custom domains
(what `helm-guard deploy` reads back and `helm-guard audit` reads to find which hosts a
Worker serves), and the two calls `wrangler deploy` 4.86 makes to publish them.

- `GET /zones?name=&account.id=&page&per_page`: paged (`result_info.total_pages`); `name`
  is exact (wrangler's `getZoneIdFromHost`, cli.js l.294518, looks zones up by name);
- `GET|POST /zones/{zone}/workers/routes`: GET `[{"id", "pattern", "script"}]`, one page (as
  the API); POST `{pattern, script}` creates one (what any holder of the token can do);
- `GET|PUT|DELETE /zones/{zone}/workers/routes/{id}`: PUT `{pattern, script}` changes one;
- `PUT /accounts/{a}/workers/scripts/{name}/routes`: `wrangler deploy`'s `publishRoutes`
  (cli.js l.312284): the script's routes become the list `[{pattern, zone_id?, zone_name?}]`;
- `PUT /accounts/{a}/workers/scripts/{name}/domains/records`: `wrangler deploy`'s
  `publishCustomDomains` (cli.js l.311514): `{override_scope, override_existing_origin,
  origins: [{hostname, zone_id?, zone_name?}]}`;
- `GET /accounts/{a}/workers/domains`: `[{"id", "hostname", "service", "environment",
  "zone_id", "zone_name"}]` (query filters are ignored *emu*: callers filter).

*emu*: a route pattern that already exists in its zone is refused with 409, code 10020 (the
real API refuses duplicates; its code is not documented here), also when `wrangler deploy`
publishes a pattern another script holds; a route's host must lie in its zone (400, 10022
*emu*). A custom domain held by another Worker moves only with `override_existing_origin`
(else 409, code 100117 *emu*); `override_scope` detaches the script's other domains.

Python helpers: `add_zone`, `add_route`, `add_custom_domain`, `zone_routes(zone_id)`.
"""

from __future__ import annotations

import copy
import math
import re
import uuid
from typing import Any

from helm_guard.emulator.core import (
    BAD_REQUEST_CODE,
    ApiError,
    EmulatorCore,
    EmulatorError,
    Route,
    Router,
)


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

    def _zone_for_host(self, host: str) -> str | None:
        """The most specific zone holding `host` (None: no zone of the account)."""
        best: tuple[int, str] | None = None
        for zid, zone in self._zones.items():
            name = zone["name"]
            if (host == name or host.endswith("." + name)) and \
                    (best is None or len(name) > best[0]):
                best = (len(name), zid)
        return best[1] if best else None

    @staticmethod
    def _host_of(pattern: str) -> str:
        low = pattern.lower()
        for scheme in ("https://", "http://"):
            if low.startswith(scheme):
                low = low[len(scheme):]
        return low.split("/", 1)[0].lstrip("*").lstrip(".")

    def add_route(self, pattern: str, script: str | None) -> str:
        """Route `pattern` (`acme.shops.example/*`) to `script` in the zone of its host."""
        with self._lock:
            zid = self._zone_for(self._host_of(pattern))
            return self._create_route(zid, pattern, script)

    def zone_routes(self, zone_id: str) -> list[dict[str, Any]]:
        """The routes of one zone (copies)."""
        with self._lock:
            return copy.deepcopy(self._zone_routes.get(zone_id, []))

    def _create_route(self, zid: str, pattern: str, script: str | None) -> str:
        if any(r["pattern"] == pattern for r in self._zone_routes[zid]):
            raise ApiError(409, 10020, f"A route with the same pattern already exists: {pattern}")
        if self._zone_for_host(self._host_of(pattern)) != zid:
            raise ApiError(400, 10022, f"route {pattern} is not in zone "
                           f"{self._zones[zid]['name']}")
        rid = uuid.uuid4().hex
        self._zone_routes[zid].append({"id": rid, "pattern": pattern, "script": script})
        return rid

    def add_custom_domain(self, hostname: str, service: str,
                          environment: str = "production") -> str:
        """Attach custom domain `hostname` to Worker `service`."""
        with self._lock:
            return self._attach(self._zone_for(hostname), hostname, service, environment)

    def _attach(self, zid: str, hostname: str, service: str, environment: str) -> str:
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
        m = re.fullmatch(r"/workers/scripts/([^/]+)/(routes|domains/records)", sub)
        if m and method == "PUT":
            if m.group(2) == "routes":
                return 200, self._publish_routes(m.group(1), body), {}
            return 200, self._publish_domains(m.group(1), body), {}
        return None

    def _zone_of_entry(self, entry: dict[str, Any], host: str) -> str:
        zid = entry.get("zone_id")
        if isinstance(zid, str) and zid in self._zones:
            return zid
        name = entry.get("zone_name")
        found = next((z for z, v in self._zones.items() if v["name"] == name), None) \
            if isinstance(name, str) else self._zone_for_host(host)
        if found is None:
            raise ApiError(400, 10022, f"Could not find zone for `{host}`")
        return found

    def _publish_routes(self, script: str, body: Any) -> list[dict[str, Any]]:
        """`PUT S/routes`: the script's routes become exactly `body` (all or nothing)."""
        if not isinstance(body, list) or not all(
                isinstance(r, dict) and isinstance(r.get("pattern"), str) for r in body):
            raise ApiError(400, BAD_REQUEST_CODE, "body must be a list of {pattern}")
        saved = copy.deepcopy(self._zone_routes)
        for routes in self._zone_routes.values():
            routes[:] = [r for r in routes if r["script"] != script]
        out = []
        try:
            for entry in body:
                zid = self._zone_of_entry(entry, self._host_of(entry["pattern"]))
                rid = self._create_route(zid, entry["pattern"], script)
                out.append({"id": rid, "pattern": entry["pattern"], "script": script,
                            "zone_name": self._zones[zid]["name"]})
        except ApiError:
            self._zone_routes = saved
            raise
        return out

    def _publish_domains(self, script: str, body: Any) -> list[dict[str, Any]]:
        """`PUT S/domains/records`: attach `origins` to the script."""
        origins = body.get("origins") if isinstance(body, dict) else None
        if not isinstance(origins, list) or not all(
                isinstance(o, dict) and isinstance(o.get("hostname"), str) for o in origins):
            raise ApiError(400, BAD_REQUEST_CODE, "origins must be a list of {hostname}")
        assert isinstance(body, dict)
        plan = []
        for o in origins:
            host = o["hostname"].lower()
            held = next((d for d in self._domains if d["hostname"] == host), None)
            if held is not None and held["service"] != script and \
                    not body.get("override_existing_origin"):
                raise ApiError(409, 100117, f"Hostname {host} is already in use by Worker "
                               f"{held['service']}")
            plan.append((self._zone_of_entry(o, host), host))
        if body.get("override_scope"):
            keep = {h for _, h in plan}
            self._domains = [d for d in self._domains
                             if d["service"] != script or d["hostname"] in keep]
        for zid, host in plan:
            self._attach(zid, host, script, "production")
        return copy.deepcopy([d for d in self._domains if d["service"] == script])

    def _route_zones(self, method: str, rel: str, query: dict[str, str], body: Any,
                     user_agent: str) -> Route | None:
        if method == "GET" and rel == "/zones":
            name = query.get("name")
            zones = [z for z in self._zones.values()
                     if query.get("account.id") in (None, self.account_id)
                     and (name is None or z["name"] == name.lower())]
            per_page = max(1, min(int(query.get("per_page") or 20), 50))
            page = max(1, int(query.get("page") or 1))
            items = zones[(page - 1) * per_page: page * per_page]
            total_pages = max(1, math.ceil(len(zones) / per_page))
            info = {"page": page, "per_page": per_page, "count": len(items),
                    "total_count": len(zones), "total_pages": total_pages}
            return 200, copy.deepcopy(items), {"result_info": info}
        m = re.fullmatch(r"/zones/([^/]+)/workers/routes(?:/([^/]+))?", rel)
        if m is None:
            return None
        zid, rid = m.group(1), m.group(2)
        if zid not in self._zone_routes:
            raise ApiError(404, 7003, "Could not route to /zones, perhaps your object "
                           "identifier is invalid?")
        routes = self._zone_routes[zid]
        if rid is None and method == "GET":
            return 200, copy.deepcopy(routes), {}
        if rid is None and method == "POST":
            pattern, script = _route_body(body)
            new = self._create_route(zid, pattern, script)
            return 200, {"id": new, "pattern": pattern, "script": script}, {}
        found = next((r for r in routes if r["id"] == rid), None)
        if rid is None or found is None:
            raise ApiError(404, 10005, "Route not found") if rid else ApiError(
                405, 10000, f"{method} not allowed")
        if method == "GET":
            return 200, copy.deepcopy(found), {}
        if method == "DELETE":
            routes.remove(found)
            return 200, {"id": rid}, {}
        if method == "PUT":
            pattern, script = _route_body(body)
            if any(r["pattern"] == pattern and r is not found for r in routes):
                raise ApiError(409, 10020, f"A route with the same pattern already exists: "
                               f"{pattern}")
            found.update(pattern=pattern, script=script)
            return 200, copy.deepcopy(found), {}
        return None


def _route_body(body: Any) -> tuple[str, str | None]:
    pattern = body.get("pattern") if isinstance(body, dict) else None
    script = body.get("script") if isinstance(body, dict) else None
    if not isinstance(pattern, str) or not (script is None or isinstance(script, str)):
        raise ApiError(400, BAD_REQUEST_CODE, "a route is {pattern, script}")
    return pattern, script
