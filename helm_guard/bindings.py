"""A shop's expected bindings, and a pure comparison of a live Cloudflare version against them.

What a shop's Worker must bind comes from the registry and the naming templates only (never
from its config file, which is exactly what a binding swap corrupts):

- D1: every `{"type": "d1", "id": ...}` binding must carry the registry's `database_id`, and
  at least one must exist;
- R2: every `{"type": "r2_bucket", "bucket_name": ...}` binding must name the shop's bucket
  (`naming.r2`, e.g. `helm-acme-assets`), and at least one must exist;
- KV: `namespace_id` must be one of the shop's registry `kv_namespaces` or a fleet-shared one;
- service and tail consumer: `service` must be a fleet-shared service (`shared.services`) or the
  shop's own Worker; a Durable Object or Workflow of another Worker (`script_name`) is refused;
- queue and workflow: the name must be listed in the shop's registry `queues` / `workflows`.

`judge_bindings(fleet, tenant, bindings)` is the one judge (deploy, rollback, audit); it reads
`Fleet.owned(tenant)`, the same record the `check` rules read.

Which shop owns a foreign id, bucket, namespace or Worker is looked up in a reverse index built
from the same registry + naming templates (`OwnerIndex`), so every difference can say "this is
shop bravo's database".

Binding types that carry no tenant data are harmless and always accepted: `HARMLESS_TYPES`
(plain text/JSON vars, secrets, version metadata, Workers AI, Analytics Engine datasets, the
Worker's own static assets, browser rendering, images, and the legacy inline module/blob
kinds). Any other type (`inherit`, Hyperdrive, Vectorize, dispatch namespaces, mTLS, secrets
store, types added by Cloudflare later...) is a difference: helm-guard
cannot tell whose data it reaches, so it fails closed. Analytics Engine is accepted because a
dataset is write-only telemetry, not a shop's records; revisit if that changes.

Everything here is pure: no I/O, no wrangler, no git.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from helm_guard.fleet import Fleet, Tenant

HARMLESS_TYPES = frozenset(
    {
        "plain_text",
        "json",
        "secret_text",
        "version_metadata",
        "ai",
        "analytics_engine",
        "assets",
        "browser",
        "images",
        "wasm_module",
        "text_blob",
        "data_blob",
    }
)
CHECKED_TYPES = frozenset({"d1", "r2_bucket", "kv_namespace", "service"})


class ExpectedBindings(NamedTuple):
    """What tenant (`shop`, `stage`) must bind, from the registry + naming templates.

    `stage` is None for the shop's production target; a stage's identities (Worker, D1, R2,
    KV) come from `naming.stage_*` and `shops.<slug>.stages.<stage>`, never the production
    ones: a stage binding its shop's production database is a difference like any other.
    """

    shop: str
    worker: str
    database_id: str | None
    database_name: str
    bucket_name: str
    kv_namespaces: frozenset[str]
    shared_kv: frozenset[str]
    shared_services: frozenset[str]
    stage: str | None = None

    def tenant(self) -> Tenant:
        return Tenant(self.shop, self.stage)


class Mismatch(NamedTuple):
    """One way a version's bindings differ from what the tenant owns (`judge_bindings`).

    `owner` is the slug (or "slug (stage)") of the tenant that owns the foreign resource,
    None when the resource belongs to nobody in the registry (or when something is missing).
    """

    binding: str
    type: str
    actual: str
    expected: str
    owner: str | None
    message: str


Difference = Mismatch  # the older name


class OwnerIndex:
    """Reverse index: resource identity -> the tenant that owns it (registry + naming)."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.d1: dict[str, Tenant] = {}
        self.r2: dict[str, Tenant] = {}
        self.kv: dict[str, Tenant] = {}
        self.worker: dict[str, Tenant] = {}
        for tenant in fleet.tenants():
            exp = fleet.expected(tenant)
            entry: Mapping[str, Any] = fleet.shops.get(tenant.shop, {})
            if tenant.stage is not None:
                entry = entry.get("stages", {}).get(tenant.stage, {})
            for table, values in (
                (self.d1, (exp.database_id, exp.preview_database_id)),
                (self.r2, (exp.bucket_name, exp.preview_bucket_name)),
                (self.kv, tuple(entry.get("kv_namespaces", ()))),
                (self.worker, (exp.worker,)),
            ):
                for value in values:
                    if isinstance(value, str) and value:
                        table.setdefault(value.lower(), tenant)

    def owner(self, kind: str, value: object) -> Tenant | None:
        """The tenant owning `value` of `kind` ("d1", "r2", "kv", "worker"), or None."""
        if not isinstance(value, str):
            return None
        table: dict[str, Tenant] = getattr(self, kind)
        return table.get(value.lower())


def expected_bindings(fleet: Fleet, shop: str, stage: str | None = None) -> ExpectedBindings:
    """The expected bindings of registered shop `shop`: production, or its stage `stage`."""
    exp = fleet.expected(Tenant(shop, stage))
    entry: Mapping[str, Any] = fleet.shops.get(shop, {})
    if stage is not None:
        entry = entry.get("stages", {}).get(stage, {})
    return ExpectedBindings(
        shop=shop,
        worker=exp.worker,
        database_id=exp.database_id,
        database_name=exp.database_name,
        bucket_name=exp.bucket_name,
        kv_namespaces=frozenset(entry.get("kv_namespaces", ())),
        shared_kv=fleet.shared_kv,
        shared_services=fleet.shared_services,
        stage=stage,
    )


def _label(tenant: Tenant | None) -> str | None:
    return tenant.label() if tenant is not None else None


def _whose(owner: Tenant | None, what: str) -> str:
    if owner is None:
        return f"{what} that belongs to no shop in the registry"
    return f"shop {owner.label()}'s {what}"


def judge_bindings(fleet: Fleet, tenant: Tenant,
                   bindings: Iterable[Mapping[str, Any]]) -> list[Mismatch]:
    """Every way the bindings of a live or uploaded version of `tenant`'s Worker differ from
    what the tenant owns ([] = every binding is its own). THE judge used by deploy, rollback
    and audit; `check` applies the same `Fleet.owned` record to the config side.

    `bindings` are API-shaped objects (`{"type": "d1", "name": "DB", "id": ...}`, as
    `helm_guard.cloudflare.wrangler.bindings_of` returns them); tail consumers may be passed as
    `{"type": "tail_consumer", "service": ...}`. Per type:

    - `d1`: `id` is the registry's `database_id`; `r2_bucket`: `bucket_name` is the tenant's;
      at least one of each must exist;
    - `kv_namespace`: `namespace_id` is listed in the tenant's `kv_namespaces` or `shared`;
    - `service`, `tail_consumer`: `service` is the tenant's Worker or a shared service;
    - `durable_object_namespace`: `script_name` absent (the Worker's own class) or the
      tenant's Worker;
    - `queue`: `queue_name` is in the tenant's `queues`; `workflow`: `workflow_name` in its
      `workflows` and `script_name` absent or its own Worker;
    - `HARMLESS_TYPES` (text and JSON vars, secrets, ...): accepted;
    - `inherit` (the previous version's binding, unresolved) and any other type: a mismatch
      ("unmodelled"): helm-guard cannot tell whose data it reaches, so it fails closed.

    Names compare exactly: a case variant (`Helm-Auth`) of an allowed name is a mismatch.
    """
    owned = fleet.owned(tenant)
    me = tenant.label()
    out: list[Mismatch] = []
    seen: set[str] = set()

    def foreign(name: str, kind: str, actual: object, expected: str, what: str,
                owner: Tenant | None, fix: str) -> None:
        if owner is not None and owner != tenant:
            out.append(Mismatch(name, kind, str(actual), expected, owner.label(),
                                f"{name} ({kind}) binds {_whose(owner, what)} {actual!r}, "
                                f"expected {expected}"))
        else:
            out.append(Mismatch(name, kind, str(actual), expected, None,
                                f"{name} ({kind}) binds {what} {actual!r}, which the registry "
                                f"does not list for {me} (fail closed): {fix}"))

    for b in bindings:
        name = str(b.get("name", ""))
        kind = str(b.get("type", ""))
        seen.add(kind)
        if kind in HARMLESS_TYPES:
            continue
        if kind == "d1":
            actual = b.get("id")
            if isinstance(actual, str) and actual == owned.database_id:
                continue
            owner = _d1_owner(fleet, actual)
            out.append(Mismatch(
                name, kind, str(actual), str(owned.database_id),
                None if owner == tenant else _label(owner),
                f"{name} (D1) binds {_whose(owner, 'database')} {actual}, expected shop "
                f"{me}'s {owned.database_id}"))
        elif kind == "r2_bucket":
            actual = b.get("bucket_name")
            if actual == owned.bucket_name:
                continue
            owner = _r2_owner(fleet, actual)
            out.append(Mismatch(
                name, kind, str(actual), owned.bucket_name,
                None if owner == tenant else _label(owner),
                f"{name} (R2) binds {_whose(owner, 'bucket')} {actual}, expected "
                f"{owned.bucket_name}"))
        elif kind == "kv_namespace":
            actual = b.get("namespace_id")
            if owned.allows_kv(actual):
                continue
            foreign(name, kind, actual, ", ".join(sorted(owned.kv_ids | owned.shared_kv))
                    or "(none)", "namespace", fleet.owner_of("kv", actual),
                    f'add it to "shops.{_entry_path(tenant)}.kv_namespaces" if it is '
                    f"{me}'s alone")
        elif kind in ("service", "tail_consumer"):
            actual = b.get("service")
            if owned.allows_worker(actual):
                continue
            foreign(name, kind, actual, "the shop's Worker or a shared service", "Worker",
                    _worker_owner(fleet, actual),
                    'list it in the fleet\'s "shared.services" after review')
        elif kind == "durable_object_namespace":
            script = b.get("script_name")
            if script is None or script == "" or script == owned.worker:
                continue
            foreign(name, kind, script, owned.worker, "Worker", _worker_owner(fleet, script),
                    "a Durable Object of another Worker is not the shop's own")
        elif kind == "queue":
            actual = b.get("queue_name")
            if isinstance(actual, str) and actual in owned.queues:
                continue
            foreign(name, kind, actual, ", ".join(sorted(owned.queues)) or "(none)", "queue",
                    fleet.owner_of("queue", actual),
                    f'add it to "shops.{_entry_path(tenant)}.queues" if it is {me}\'s alone')
        elif kind == "workflow":
            actual = b.get("workflow_name")
            script = b.get("script_name")
            if not (script is None or script == "" or script == owned.worker):
                foreign(name, kind, script, owned.worker, "Worker",
                        _worker_owner(fleet, script),
                        "a Workflow of another Worker is not the shop's own")
            elif not (isinstance(actual, str) and actual in owned.workflows):
                foreign(name, kind, actual, ", ".join(sorted(owned.workflows)) or "(none)",
                        "workflow", fleet.owner_of("workflow", actual),
                        f'add it to "shops.{_entry_path(tenant)}.workflows" if it is '
                        f"{me}'s alone")
        else:
            why = ("an `inherit` binding keeps whatever the previous version bound, which "
                   "this check cannot see" if kind == "inherit" else
                   f"binding type {kind or '(none)'!r} is not modelled by helm-guard")
            out.append(Mismatch(name, kind, describe(b), "(none)", None,
                                f"{name}: unmodelled: {why}; helm-guard cannot attribute it "
                                "to a shop (fail closed)"))
    if "d1" not in seen:
        out.append(Mismatch("-", "d1", "(none)", str(owned.database_id), None,
                            f"no D1 binding to shop {me}'s database {owned.database_id}"))
    if "r2_bucket" not in seen:
        out.append(Mismatch("-", "r2_bucket", "(none)", owned.bucket_name, None,
                            f"no R2 binding to shop {me}'s bucket {owned.bucket_name}"))
    return out


def _entry_path(tenant: Tenant) -> str:
    return tenant.shop if tenant.stage is None else f"{tenant.shop}.stages.{tenant.stage}"


def _index(fleet: Fleet) -> OwnerIndex:
    cached = fleet.derived.get("bindings.OwnerIndex")
    if not isinstance(cached, OwnerIndex):
        cached = fleet.derived["bindings.OwnerIndex"] = OwnerIndex(fleet)
    return cached


def _d1_owner(fleet: Fleet, value: object) -> Tenant | None:
    return _index(fleet).owner("d1", value)


def _r2_owner(fleet: Fleet, value: object) -> Tenant | None:
    return _index(fleet).owner("r2", value)


def _worker_owner(fleet: Fleet, value: object) -> Tenant | None:
    """The tenant whose Worker is exactly `value` (no case folding: a look-alike is nobody's
    Worker, and is refused as such)."""
    if not isinstance(value, str) or value != value.lower():
        return None
    return _index(fleet).owner("worker", value)


def compare(
    bindings: Iterable[Mapping[str, Any]], expected: ExpectedBindings, index: OwnerIndex
) -> list[Difference]:
    """Every difference between a version's bindings and `expected` ([] = they match): the
    older interface, kept for its callers; it is `judge_bindings` for `expected`'s tenant."""
    return judge_bindings(index.fleet, expected.tenant(), bindings)


def other_shops(diffs: Sequence[Difference], shop: str) -> list[str]:
    """Slugs of the other shops whose resources the differences touch (sorted, unique)."""
    return sorted({d.owner.split(" ")[0] for d in diffs if d.owner} - {shop})


def describe(binding: Mapping[str, Any]) -> str:
    """The identity a binding points at, for people: `d1 1a9e…`, `r2 helm-acme-assets`.

    Secret values never appear in a version's bindings (only `secret_text` + name); this
    prints nothing but the type for secrets all the same."""
    kind = str(binding.get("type", ""))
    if kind == "d1":
        return f"d1 {binding.get('id')}"
    if kind == "r2_bucket":
        return f"r2 {binding.get('bucket_name')}"
    if kind == "kv_namespace":
        return f"kv {binding.get('namespace_id')}"
    if kind == "service":
        return f"service {binding.get('service')}"
    return kind or "(no type)"


def owner_note(binding: Mapping[str, Any], index: OwnerIndex) -> str | None:
    """Which tenant owns the resource `binding` points at (None when unknown/not a resource)."""
    kind = str(binding.get("type", ""))
    key = {
        "d1": ("d1", "id"),
        "r2_bucket": ("r2", "bucket_name"),
        "kv_namespace": ("kv", "namespace_id"),
        "service": ("worker", "service"),
    }.get(kind)
    if key is None:
        return None
    return _label(index.owner(key[0], binding.get(key[1])))


def side_by_side(
    left: Sequence[Mapping[str, Any]],
    right: Sequence[Mapping[str, Any]],
    index: OwnerIndex,
    *,
    titles: tuple[str, str] = ("live", "target"),
) -> list[str]:
    """Rows `binding | left | right`, each identity followed by its owner `[shop x]`; rows
    that differ are marked `!`. Harmless kinds are listed by name only."""

    def cell(b: Mapping[str, Any] | None) -> str:
        if b is None:
            return "-"
        owner = owner_note(b, index)
        return describe(b) + (f" [shop {owner}]" if owner else "")

    lmap = {(str(b.get("name")), str(b.get("type"))): b for b in left}
    rmap = {(str(b.get("name")), str(b.get("type"))): b for b in right}
    keys = sorted(set(lmap) | set(rmap))
    rows = [("binding", titles[0], titles[1], "")]
    for key in keys:
        lc, rc = cell(lmap.get(key)), cell(rmap.get(key))
        rows.append((key[0], lc, rc, "" if lc == rc else "!"))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    w2 = max(len(r[2]) for r in rows)
    return [f"{r[3]:1} {r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<{w2}}".rstrip() for r in rows]
