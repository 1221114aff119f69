"""Read back from Cloudflare what a deploy or rollback acts on, through the API door
(`helm_guard.cloudflare.api.Client`; one HTTP request each instead of a ~0.8 s wrangler run).

What is read, and why:
- the version itself, under the Worker's own path (`GET S/versions/{id}`): a version id that
  does not belong to that Worker is a 404, so "the Worker the version belongs to" is proven;
- the deployments (`GET S/deployments`, newest first): what is live, at which percentage,
  since when (`created_on`: bounds an incident's data audit);
- the script settings (`GET S/script-settings`): tail consumers reach another Worker;
- the hosts (`hosts_served`): every Workers custom domain of the account
  (`GET /accounts/{a}/workers/domains`, one unpaged list) and the Worker routes of every zone
  that holds one of the tenant's registered hosts (`GET /zones/{zone_id}/workers/routes`).
  A host's zone is found as wrangler 4.86 finds it (`getZoneIdFromHost`, cli.js l.294518,
  `src/zones.ts`): `GET /zones?name=<host>&account.id=<account>`, then the parent name, ...,
  down to two labels; the first zone found wins. A registered host with no zone in the
  account, or a zone whose routes cannot be read, blocks (fail closed);
- the Durable Object namespaces of the account
  (`GET /accounts/{a}/workers/durable_objects/namespaces`, page-numbered; each `{id, name,
  script, class, use_sqlite}`: cloudflare-python `durable_objects.namespaces.list`,
  developers.cloudflare.com/api/python/resources/durable_objects; wrangler's
  `listDurableObjects` cli.js l.153240): which Worker's class owns each namespace,
  the nearest the API comes to a script's migrations (it never returns the migration steps,
  only the script's `migration_tag` in `GET /accounts/{a}/workers/scripts`).

- the Worker's preview settings (`GET /accounts/{a}/workers/workers/{worker}` ->
  `preview_defaults`: `env` = the bindings every Preview deployment gets, `tail_consumers`),
  as wrangler 4.86's `preview settings` reads them (`getWorkerPreviewDefaults`, cli.js
  l.284267, `src/preview/api.ts`) and `preview settings update` writes them (PATCH, l.284274).

Not read back (docs/threat-model.md, Open): routes in zones where the tenant has no registered
host (`helm-guard audit` reads every zone of the account), and the migration steps a script
has applied (the API keeps only its `migration_tag`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from helm_guard.cloudflare.api import Client, CloudflareError, seg
from helm_guard.errors import Blocked
from helm_guard.hosts import Served, ShapeError, served_by_domains, served_by_routes

WORKER_NOT_FOUND = 10007


class Live(NamedTuple):
    """The newest deployment of a Worker."""

    deployment_id: str
    created_on: str | None
    traffic: list[tuple[str, float]]  # (version id, percentage)


def _blocked(exc: CloudflareError, what: str) -> Blocked:
    return Blocked(f"cannot read {what} back from Cloudflare: {exc}",
                   hint=exc.hint or "check the token's permissions and CLOUDFLARE_API_BASE_URL")


def version(client: Client, worker: str, version_id: str) -> dict[str, Any]:
    """Version `version_id` read under Worker `worker`'s own path; Blocked if it is not
    that Worker's (404) or cannot be read."""
    try:
        return client.version(worker, version_id)
    except CloudflareError as exc:
        if exc.status == 404:
            raise Blocked(f"version {version_id} is not a version of Worker {worker} "
                          "(Cloudflare: not found under that Worker)",
                          hint="something uploaded to another Worker; look at "
                          f"`wrangler versions list --name {worker}`") from None
        raise _blocked(exc, f"version {version_id} of {worker}") from None


def live(client: Client, worker: str) -> Live:
    """The newest deployment of `worker` (Blocked when there is none)."""
    try:
        deps = client.deployments(worker)
    except CloudflareError as exc:
        raise _blocked(exc, f"the deployments of {worker}") from None
    if not deps or not isinstance(deps[0], dict):
        raise Blocked(f"{worker} has no deployment on Cloudflare")
    newest = deps[0]
    traffic = [(str(v.get("version_id")), float(v.get("percentage") or 0))
               for v in newest.get("versions") or [] if isinstance(v, dict)]
    created = newest.get("created_on")
    return Live(str(newest.get("id")), created if isinstance(created, str) else None, traffic)


def script_settings(client: Client, worker: str) -> dict[str, Any]:
    """The Worker's non-versioned settings (tail consumers, logpush, observability)."""
    try:
        result = client.get(client.account_path("workers", "scripts", worker, "script-settings"))
    except CloudflareError as exc:
        if exc.status == 404 and exc.code == WORKER_NOT_FOUND:
            return {}  # a Worker's first deploy: nothing is attached yet
        raise _blocked(exc, f"the script settings of {worker}") from None
    if not isinstance(result, dict):
        raise Blocked(f"the script settings of {worker} are not an object")
    return result


def custom_domains(client: Client) -> list[dict[str, Any]]:
    """Every Workers custom domain of the account (one request; the API does not page it).
    All of them, not only the Worker's: a domain of the tenant's host attached to another
    Worker is a swap too."""
    path = "/accounts/" + seg(client.account_id) + "/workers/domains"
    try:
        result = client.get(path)
    except CloudflareError as exc:
        raise _blocked(exc, "the Workers custom domains") from None
    if not isinstance(result, list) or not all(isinstance(d, dict) for d in result):
        raise Blocked("the Workers custom domains: unexpected answer shape")
    return result


def zone_candidates(host: str) -> list[str]:
    """The names wrangler tries for `host`'s zone, most specific first
    (`acme.shops.example` -> `acme.shops.example`, `shops.example`)."""
    pieces = host.strip(".").split(".")
    return [".".join(pieces[i:]) for i in range(len(pieces) - 1)]


def zone_of(client: Client, host: str, cache: dict[str, str | None]) -> tuple[str, str]:
    """(zone id, zone name) of `host` in the account, looked up as wrangler does; Blocked when
    the account has no zone for it or the lookup fails. `cache`: name -> id (or None)."""
    tried = zone_candidates(host)
    for name in tried:
        if name not in cache:
            try:
                found = client.get("/zones", {"name": name, "account.id": client.account_id})
            except CloudflareError as exc:
                raise _blocked(exc, f"the zone of host {host} ({name})") from None
            if not isinstance(found, list):
                raise Blocked(f"the zone of host {host}: unexpected answer shape")
            # exactly that name (an answer that ignored the filter cannot pick a wrong zone)
            cache[name] = next((z["id"] for z in found if isinstance(z, dict)
                                and isinstance(z.get("id"), str) and z["id"]
                                and str(z.get("name", "")).lower() == name), None)
        zone_id = cache[name]
        if zone_id is not None:
            return zone_id, name
    raise Blocked(f"no Cloudflare zone of this account holds host {host} (looked up "
                  + ", ".join(tried or [host]) + "): its routes cannot be read back",
                  hint="add the zone to the account, or correct the host in the registry's "
                  "routes; a deploy is never confirmed with a host it cannot read")


def zone_routes(client: Client, zone_id: str, zone: str) -> list[Served]:
    """The Worker routes of one zone, as `Served`; Blocked when unreadable."""
    try:
        return served_by_routes(client.zone_routes(zone_id), zone)
    except CloudflareError as exc:
        raise _blocked(exc, f"the Worker routes of zone {zone} ({zone_id})") from None
    except ShapeError as exc:
        raise Blocked(f"the Worker routes of zone {zone}: {exc}") from None


def hosts_served(client: Client, hosts: Iterable[str]) -> list[Served]:
    """What Cloudflare serves that can touch `hosts` (a tenant's registered hosts) or the
    tenant's Worker: every custom domain of the account, and the routes of each distinct
    zone holding one of `hosts` (one lookup per candidate zone name, one read per zone)."""
    cache: dict[str, str | None] = {}
    zones: dict[str, str] = {}
    for host in sorted(set(hosts)):
        zone_id, name = zone_of(client, host, cache)
        zones.setdefault(zone_id, name)
    try:
        served = served_by_domains(custom_domains(client))
    except ShapeError as exc:
        raise Blocked(f"the Workers custom domains: {exc}") from None
    for zone_id, name in sorted(zones.items(), key=lambda z: z[1]):
        served += zone_routes(client, zone_id, name)
    return served


def durable_object_namespaces(client: Client) -> list[dict[str, Any]]:
    """Every Durable Object namespace of the account (`id`, `name`, `script`, `class`)."""
    path = client.account_path("workers", "durable_objects", "namespaces")
    try:
        found = list(client.pages(path, per_page=1000))
    except CloudflareError as exc:
        raise _blocked(exc, "the Durable Object namespaces") from None
    if not all(isinstance(n, dict) for n in found):
        raise Blocked("the Durable Object namespaces: unexpected answer shape")
    return found


def _created(item: dict[str, Any], *keys: str) -> str:
    value: Any = item
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, str) else ""


def deployable_versions(client: Client, worker: str) -> list[dict[str, Any]]:
    """The versions Cloudflare can still deploy or roll back to, oldest first (as `wrangler
    versions list --json` sorts them: by `metadata.created_on`)."""
    path = client.account_path("workers", "scripts", worker, "versions")
    try:
        result = client.get(path, {"deployable": "true"})
    except CloudflareError as exc:
        raise _blocked(exc, f"the versions of {worker}") from None
    items = result.get("items") if isinstance(result, dict) else None
    if not isinstance(items, list):
        raise Blocked(f"the versions of {worker}: unexpected answer shape")
    found = [v for v in items if isinstance(v, dict)]
    return sorted(found, key=lambda v: (_created(v, "metadata", "created_on"),
                                        v.get("number") if isinstance(v.get("number"), int)
                                        else 0))


def deployments(client: Client, worker: str) -> list[dict[str, Any]]:
    """The Worker's deployments, oldest first (as `wrangler deployments list --json`)."""
    try:
        deps = client.deployments(worker)
    except CloudflareError as exc:
        raise _blocked(exc, f"the deployments of {worker}") from None
    listed = [d for d in deps if isinstance(d, dict)]
    order = {id(d): i for i, d in enumerate(reversed(listed))}  # the API: newest first
    return sorted(listed, key=lambda d: (_created(d, "created_on"), order[id(d)]))


def preview_defaults(client: Client, worker: str) -> dict[str, Any]:
    """The Worker's preview settings (`preview_defaults`; {} when it has none)."""
    try:
        result = client.get("/accounts/" + seg(client.account_id) + "/workers/workers/"
                            + seg(worker))
    except CloudflareError as exc:
        raise _blocked(exc, f"the preview settings of {worker}") from None
    found = result.get("preview_defaults") if isinstance(result, dict) else None
    if not isinstance(result, dict) or not isinstance(found, dict | None):
        raise Blocked(f"the preview settings of {worker}: unexpected answer shape")
    return found or {}
