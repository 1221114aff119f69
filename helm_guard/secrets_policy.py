"""Required secrets: which secrets a tenant's Worker must have, and which a version lacks.

The fleet file declares them by name only (`schemas/helm-fleet.schema.json`, `$defs/secrets`):

    "secrets": {"required": ["STRIPE_WEBHOOK_SECRET", "SESSION_SIGNING_KEY"]},   // every shop
    "shops": {"acme": {"database_id": "…",
                       "secrets": {"required": ["ACME_ERP_TOKEN"]},              // acme only
                       "stages": {"staging": {"database_id": "…",
                                              "secrets": {"required": ["X"]}}}}} // acme staging

A tenant needs the fleet's list, plus its shop's additions, plus (for a stage) the stage's own:
a stage runs the shop's code, so it needs the shop's secrets too. Additions only add; nothing
can remove a fleet-wide requirement for one shop.

Present means a `secret_text` binding of exactly that name (names are case-sensitive, as in
the Worker's `env`). Anything else of that name does not count: a `plain_text` var named
`STRIPE_WEBHOOK_SECRET` *replaces* the secret in the Worker's `env` (one name, one binding) and
is reported as such; a config that puts it under `vars` is already HG901.

Used by `helm-guard secrets` (live: the API's secret names), `helm-guard deploy` (step 3: the
uploaded version's bindings, before activation: `require_in_version`) and the live audit.
Pure except `check_live`, which takes an API client. No secret value is ever read: the API's
secret list and a version's bindings carry names only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from helm_guard.errors import Blocked, UsageError
from helm_guard.fleet import Fleet, Tenant

SECRET_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
SECRET_TYPES = frozenset({"secret_text"})

OK = "OK"
MISSING = "MISSING"
UNKNOWN = "UNKNOWN"


def _listed(entry: object, where: str) -> list[str]:
    """`entry.secrets.required` (validated again: a fleet object built without the schema
    must not smuggle a non-name through)."""
    if not isinstance(entry, Mapping):
        return []
    block = entry.get("secrets")
    if block is None:
        return []
    names = block.get("required", []) if isinstance(block, Mapping) else None
    if not isinstance(names, list) or not all(
        isinstance(n, str) and SECRET_NAME_RE.fullmatch(n) for n in names
    ):
        raise UsageError(
            f"{where}.secrets.required must be a list of secret names",
            hint="names like STRIPE_WEBHOOK_SECRET (letters, digits, underscores)",
        )
    return list(names)


def required_secrets(fleet: Fleet, tenant: Tenant) -> tuple[str, ...]:
    """The secret names `tenant`'s Worker must have: the fleet's, its shop's, its stage's
    (in that order, each once)."""
    names = _listed(fleet.data, "fleet")
    shop_entry = fleet.shops.get(tenant.shop, {})
    names += _listed(shop_entry, f"shops.{tenant.shop}")
    if tenant.stage is not None:
        stages = shop_entry.get("stages", {}) if isinstance(shop_entry, Mapping) else {}
        stage_entry = stages.get(tenant.stage, {}) if isinstance(stages, Mapping) else {}
        names += _listed(stage_entry, f"shops.{tenant.shop}.stages.{tenant.stage}")
    return tuple(dict.fromkeys(names))


def secret_bindings(bindings: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """Names of the `secret_text` bindings among a version's bindings."""
    return frozenset(
        b["name"]
        for b in bindings
        if isinstance(b, Mapping) and b.get("type") in SECRET_TYPES
        and isinstance(b.get("name"), str)
    )


def missing_secrets(
    fleet: Fleet, tenant: Tenant, version_bindings: Sequence[Mapping[str, Any]]
) -> list[str]:
    """The required secrets of `tenant` that `version_bindings` (a version's
    `resources.bindings`, as Cloudflare reports them) does not bind as a secret."""
    present = secret_bindings(version_bindings)
    return [n for n in required_secrets(fleet, tenant) if n not in present]


def describe_missing(missing: Sequence[str], bindings: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per missing secret: not bound at all, or bound as something else (a plain var
    of the same name shadows the secret). Never a value."""
    by_name = {b.get("name"): b for b in bindings if isinstance(b, Mapping)}
    lines = []
    for name in missing:
        other = by_name.get(name)
        if other is None:
            lines.append(f"{name}: not set")
        else:
            lines.append(
                f"{name}: bound as {other.get('type')!s}, not as a secret (a var of that name "
                "replaces the secret; remove it from vars)"
            )
    return lines


def require_in_version(
    fleet: Fleet, tenant: Tenant, bindings: Sequence[Mapping[str, Any]], *, version_id: str,
    worker: str,
) -> None:
    """Blocked when the uploaded version `version_id` lacks a required secret: called by
    `deploy` between the upload and the activation, so such a version is never live."""
    missing = missing_secrets(fleet, tenant, bindings)
    if not missing:
        return
    raise Blocked(
        f"version {version_id} of {worker} lacks required secret(s) of {tenant.label()}; it "
        "was NOT activated (it stays an inactive upload):\n"
        + "\n".join(f"  - {line}" for line in describe_missing(missing, bindings)),
        hint=f"set them with `wrangler secret put` (the exact command for this shop: "
        f"`helm-guard runbook --shop {tenant.shop}`), check with `helm-guard secrets --shop "
        f"{tenant.shop}`, then deploy again",
    )


# ---------------------------------------------------------------------- live (API)
class SecretNames(Protocol):
    def secret_names(self, script: str) -> list[str]: ...


class SecretCheck(NamedTuple):
    """One tenant's required secrets against its live Worker (names only)."""

    tenant: Tenant
    worker: str
    required: tuple[str, ...]
    present: tuple[str, ...]  # the required ones that are set
    missing: tuple[str, ...]
    error: str | None = None  # the API could not tell: UNKNOWN, which blocks

    @property
    def status(self) -> str:
        if self.error is not None:
            return UNKNOWN
        return MISSING if self.missing else OK

    def to_json(self) -> dict[str, Any]:
        return {
            "shop": self.tenant.shop,
            "stage": self.tenant.stage,
            "worker": self.worker,
            "status": self.status,
            "required": list(self.required),
            "present": list(self.present),
            "missing": list(self.missing),
            "error": self.error,
        }


def check_live(client: SecretNames, fleet: Fleet, tenant: Tenant) -> SecretCheck:
    """Ask Cloudflare which secrets `tenant`'s Worker has (names only) and compare. An API
    failure (including a Worker that does not exist) is UNKNOWN, never OK."""
    from helm_guard.cloudflare.api import CloudflareError

    worker = fleet.expected(tenant).worker
    required = required_secrets(fleet, tenant)
    if not required:  # nothing to ask Cloudflare
        return SecretCheck(tenant, worker, (), (), ())
    try:
        names = set(client.secret_names(worker))
    except CloudflareError as exc:
        why = str(exc) + (f" ({exc.hint})" if exc.hint else "")
        return SecretCheck(tenant, worker, required, (), (), why)
    present = tuple(n for n in required if n in names)
    missing = tuple(n for n in required if n not in names)
    return SecretCheck(tenant, worker, required, present, missing)
