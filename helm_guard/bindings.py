"""A shop's expected bindings, and a pure comparison of a live Cloudflare version against them.

What a shop's Worker must bind comes from the registry and the naming templates only (never
from its config file, which is exactly what a binding swap corrupts):

- D1: every `{"type": "d1", "id": ...}` binding must carry the registry's `database_id`, and
  at least one must exist;
- R2: every `{"type": "r2_bucket", "bucket_name": ...}` binding must name the shop's bucket
  (`naming.r2`, e.g. `helm-acme-assets`), and at least one must exist;
- KV: `namespace_id` must be one of the shop's registry `kv_namespaces` or a fleet-shared one;
- service: `service` must be a fleet-shared service (`shared.services`) or the shop's own
  Worker.

Which shop owns a foreign id, bucket, namespace or Worker is looked up in a reverse index built
from the same registry + naming templates (`OwnerIndex`), so every difference can say "this is
shop bravo's database".

Binding types that carry no tenant data are harmless and always accepted: `HARMLESS_TYPES`
(plain text/JSON vars, secrets, version metadata, Workers AI, Analytics Engine datasets, the
Worker's own static assets, browser rendering, images, and the legacy inline module/blob
kinds). Any other type (Durable Objects, queues, Hyperdrive, Vectorize, dispatch namespaces,
workflows, mTLS, secrets store, types added by Cloudflare later...) is a difference: helm-guard
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


class Difference(NamedTuple):
    """One way a version's bindings differ from the expected ones.

    `owner` is the slug (or "slug (stage)") of the tenant that owns the foreign resource,
    None when the resource belongs to nobody in the registry (or when something is missing).
    """

    binding: str
    type: str
    actual: str
    expected: str
    owner: str | None
    message: str


class OwnerIndex:
    """Reverse index: resource identity -> the tenant that owns it (registry + naming)."""

    def __init__(self, fleet: Fleet) -> None:
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


def compare(
    bindings: Iterable[Mapping[str, Any]], expected: ExpectedBindings, index: OwnerIndex
) -> list[Difference]:
    """Every difference between a version's bindings and `expected` ([] = they match).

    `bindings` are API-shaped binding objects (`helm_guard.wrangler.bindings_of`).
    """
    diffs: list[Difference] = []
    own = expected.tenant()
    me = own.label()
    seen: set[str] = set()
    for b in bindings:
        name = str(b.get("name", ""))
        kind = str(b.get("type", ""))
        seen.add(kind)
        if kind in HARMLESS_TYPES:
            continue
        if kind == "d1":
            actual = b.get("id")
            if isinstance(actual, str) and actual == expected.database_id:
                continue
            owner = index.owner("d1", actual)
            diffs.append(
                Difference(
                    name,
                    kind,
                    str(actual),
                    str(expected.database_id),
                    _label(owner),
                    f"{name} (D1) binds {_whose(owner, 'database')} {actual}, expected shop "
                    f"{me}'s {expected.database_id}",
                )
            )
        elif kind == "r2_bucket":
            actual = b.get("bucket_name")
            if actual == expected.bucket_name:
                continue
            owner = index.owner("r2", actual)
            diffs.append(
                Difference(
                    name,
                    kind,
                    str(actual),
                    expected.bucket_name,
                    _label(owner),
                    f"{name} (R2) binds {_whose(owner, 'bucket')} {actual}, expected "
                    f"{expected.bucket_name}",
                )
            )
        elif kind == "kv_namespace":
            actual = b.get("namespace_id")
            ok = expected.kv_namespaces | expected.shared_kv
            if isinstance(actual, str) and actual in ok:
                continue
            owner = index.owner("kv", actual)
            diffs.append(
                Difference(
                    name,
                    kind,
                    str(actual),
                    ", ".join(sorted(ok)) or "(none)",
                    _label(owner),
                    f"{name} (KV) binds {_whose(owner, 'namespace')} {actual}",
                )
            )
        elif kind == "service":
            actual = b.get("service")
            if actual in expected.shared_services or actual == expected.worker:
                continue
            owner = index.owner("worker", actual)
            diffs.append(
                Difference(
                    name,
                    kind,
                    str(actual),
                    "a shared service",
                    _label(owner),
                    f"{name} (service) binds {_whose(owner, 'Worker')} {actual}",
                )
            )
        else:
            diffs.append(
                Difference(
                    name,
                    kind,
                    describe(b),
                    "(none)",
                    None,
                    f"{name} has binding type {kind or '(none)'!r}, which helm-guard cannot "
                    "attribute to a shop (fail closed)",
                )
            )
    if "d1" not in seen:
        diffs.append(
            Difference(
                "-",
                "d1",
                "(none)",
                str(expected.database_id),
                None,
                f"no D1 binding to shop {me}'s database {expected.database_id}",
            )
        )
    if "r2_bucket" not in seen:
        diffs.append(
            Difference(
                "-",
                "r2_bucket",
                "(none)",
                expected.bucket_name,
                None,
                f"no R2 binding to shop {me}'s bucket {expected.bucket_name}",
            )
        )
    # a foreign resource owned by the tenant itself (e.g. its preview database) is still a
    # difference, but naming the tenant as "the other shop" would mislead
    return [d._replace(owner=None) if d.owner == me else d for d in diffs]


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
