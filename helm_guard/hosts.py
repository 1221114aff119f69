"""Which hosts reach which Worker: THE judge of zone routes and custom domains, used by
`deploy` (before and after activation, `helm_guard.deploying.judge_hosts_served`) and by the
live audit (`helm_guard.audit.engine`), so the two cannot disagree about a host.

What Cloudflare reports is turned into `Served` records (`served_by_routes`,
`served_by_domains`: the API's own shapes, `GET /zones/{zone_id}/workers/routes` ->
`[{"id", "pattern", "script"}]` and `GET /accounts/{account_id}/workers/domains` ->
`[{"id", "hostname", "service", "environment", "zone_id", "zone_name"}]`; a record of another
shape is an error, never skipped). `judge_hosts` then says, for one tenant and its Worker:

- a route or custom domain that sends a host to the tenant's Worker must be one of the
  tenant's registered hosts (`Fleet.owned(tenant).route_hosts`: exact, lowercase; a
  wildcard host is never registered, so it is always refused);
- a route or custom domain of another Worker must not cover a host registered to the tenant
  (a swap by route: the tenant's customers would reach another shop's code and data). A
  wildcard pattern covers every host it matches (`*.shops.example/*` covers
  `acme.shops.example`); a route without a Worker (`script` null: Cloudflare serves the
  origin) covers nothing.

Ownership of hosts and Workers is the registry's (`Fleet.owned`, `Fleet.owner_of`,
`bindings` for Workers): the one truth `check` (HG804) applies to the configs.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from helm_guard.bindings import _worker_owner
from helm_guard.fleet import Fleet, Tenant, route_host

KIND_LABEL = {"route": "route", "custom-domain": "custom domain"}


class Served(NamedTuple):
    """One route or custom domain as Cloudflare reports it."""

    kind: str  # "route" | "custom-domain"
    pattern: str  # the route pattern or the custom domain's hostname, as stored
    host: str  # `route_host(pattern)`: lowercase, may hold a `*`
    worker: str | None  # the Worker it sends traffic to (None: a route without a Worker)
    zone: str = ""  # the zone name or id it was read from (for messages)


class HostProblem(NamedTuple):
    kind: str
    pattern: str
    host: str
    worker: str | None
    other: str | None  # label of the other tenant involved (None: nobody's)
    message: str


class ShapeError(ValueError):
    """An answer of Cloudflare that is not the documented shape (fail closed)."""


def served_by_routes(routes: Iterable[Any], zone: str = "") -> list[Served]:
    """Zone Worker routes (`{"pattern", "script"}`) as `Served`; ShapeError on anything
    else (a pattern that is not a string, a script that is neither a string nor null)."""
    out: list[Served] = []
    for r in routes:
        pattern = r.get("pattern") if isinstance(r, Mapping) else None
        script = r.get("script") if isinstance(r, Mapping) else None
        if not isinstance(pattern, str) or not (script is None or isinstance(script, str)):
            raise ShapeError(f"a route of zone {zone or '?'} is not {{pattern, script}}: "
                             f"{str(r)[:120]}")
        out.append(Served("route", pattern, route_host(pattern), script or None, zone))
    return out


def served_by_domains(domains: Iterable[Any]) -> list[Served]:
    """Workers custom domains (`{"hostname", "service", "zone_name"}`) as `Served`."""
    out: list[Served] = []
    for d in domains:
        host = d.get("hostname") if isinstance(d, Mapping) else None
        service = d.get("service") if isinstance(d, Mapping) else None
        if not isinstance(host, str) or not isinstance(service, str):
            raise ShapeError(f"a custom domain is not {{hostname, service}}: {str(d)[:120]}")
        zone = d.get("zone_name") if isinstance(d.get("zone_name"), str) else ""
        out.append(Served("custom-domain", host, route_host(host), service, str(zone)))
    return out


def covers(host_pattern: str, host: str) -> bool:
    """Whether a route's host (`acme.shops.example`, `*.shops.example`, `*shops.example`)
    matches `host`. Cloudflare allows `*` only at the start of a route's host; any `*` is
    matched as a glob here (wider than Cloudflare, so never narrower: fail closed)."""
    if "*" not in host_pattern:
        return host_pattern == host
    return fnmatch.fnmatchcase(host, host_pattern.replace("[", "[[]").replace("?", "[?]"))


def judge_hosts(fleet: Fleet, tenant: Tenant, served: Iterable[Served]) -> list[HostProblem]:
    """Every route or custom domain in `served` that sends a host that is not the tenant's
    to its Worker, or sends one of the tenant's hosts to another Worker. [] = all its own.
    `served` may hold anything read (other Workers' routes are judged only where they cover
    one of the tenant's hosts)."""
    owned = fleet.owned(tenant)
    worker = owned.worker
    own_hosts = owned.route_hosts
    out: list[HostProblem] = []
    for s in served:
        label = KIND_LABEL.get(s.kind, s.kind)
        if s.worker == worker:
            if "*" not in s.host and owned.allows_route_host(s.host):
                continue
            owner = None if "*" in s.host else fleet.owner_of("route", s.host)
            whose = ("a wildcard host, never registered" if "*" in s.host
                     else f"shop {owner.label()}'s host" if owner
                     else "a host no shop registers")
            out.append(HostProblem(
                s.kind, s.pattern, s.host, s.worker, owner.label() if owner else None,
                f"{label} {s.pattern} ({whose}) sends {s.host} to {worker}, shop "
                f"{tenant.label()}'s Worker; register the host for shop {tenant.label()} "
                f"or remove the {label}"))
            continue
        if s.worker is None:
            continue  # a route without a Worker: the origin serves it
        hit = sorted(h for h in own_hosts if covers(s.host, h))
        if not hit:
            continue
        other = _worker_owner(fleet, s.worker)
        whose = (f"shop {other.label()}'s Worker" if other else
                 "a Worker of no shop" if s.worker not in fleet.shared_services
                 else "the shared Worker")
        out.append(HostProblem(
            s.kind, s.pattern, ", ".join(hit), s.worker, other.label() if other else None,
            f"{label} {s.pattern} sends shop {tenant.label()}'s host {', '.join(hit)} to "
            f"{whose} {s.worker}, not {worker}; point it back at {worker} or remove it"))
    return out
