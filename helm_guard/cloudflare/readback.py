"""Read back from Cloudflare what a deploy or rollback acts on, through the API door
(`helm_guard.cloudflare.api.Client`; one HTTP request each instead of a ~0.8 s wrangler run).

What is read, and why:
- the version itself, under the Worker's own path (`GET S/versions/{id}`): a version id that
  does not belong to that Worker is a 404, so "the Worker the version belongs to" is proven;
- the deployments (`GET S/deployments`, newest first): what is live, at which percentage,
  since when (`created_on`: bounds an incident's data audit);
- the script settings (`GET S/script-settings`): tail consumers reach another Worker;
- the custom domains attached to the Worker (`GET /accounts/{a}/workers/domains?service=`):
  each hostname must be one of the tenant's registered routes.

Not read back (documented in docs/threat-model.md): zone routes (listing them needs every
zone's id; helm-guard's `versions upload`/`versions deploy` never change routes, and `check`
judges the configured ones), Durable Object migrations (the API does not return them; deploy
refuses `transferred_classes` in the config) and preview settings (helm-guard never runs
`wrangler preview`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from helm_guard.cloudflare.api import Client, CloudflareError, seg
from helm_guard.errors import Blocked

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


def custom_domains(client: Client, worker: str) -> list[dict[str, Any]]:
    """The custom domains attached to `worker` (any environment)."""
    path = "/accounts/" + seg(client.account_id) + "/workers/domains"
    try:
        result = client.get(path, {"service": worker})
    except CloudflareError as exc:
        raise _blocked(exc, f"the custom domains of {worker}") from None
    if not isinstance(result, list) or not all(isinstance(d, dict) for d in result):
        raise Blocked(f"the custom domains of {worker}: unexpected answer shape")
    # the filter is the server's: keep only what is really this Worker's, and judge it all
    return [d for d in result if d.get("service") == worker]


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
