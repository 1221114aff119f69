"""## What it does
Fleet-wide: reports any resource identity used by two different shops (or stages), or by two
deploy targets: Worker name, D1 `database_id`, `database_name` and `preview_database_id`, R2
`bucket_name` and `preview_bucket_name`, KV namespace `id`/`preview_id`, Queue names
(producers, consumers, dead-letter queues), Workflow names, and route patterns / custom
domains. Each occurrence is reported, naming the others (file and line); when the registry
(or the naming templates) gives the identity to one of the shops using it, only the others
are reported. Resources listed in the fleet's `shared` section are exempt.

## Why is this bad?
Two shops bound to one resource is the binding swap itself, whichever side is "right". Two
targets deploying one Worker name overwrite each other.

## Example
```jsonc
// shops/acme/wrangler.jsonc and shops/bravo/wrangler.jsonc both:
"kv_namespaces": [{"binding": "CACHE", "id": "0f2ac74b498b48028cb68387c421e279"}]
```

Use instead:
Give each shop its own namespace, or list a deliberately shared one under `shared`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from helm_guard.context import ConfigFile, Context, Problem, TargetInfo
from helm_guard.fleet import Tenant
from helm_guard.jsonc import JsonPath

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg601_shared_resource as _this
    from helm_guard.rules.types import SummarizingFleetRule
    _: SummarizingFleetRule = _this

ID = "HG601"
NAME = "shared-resource"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = "A resource identity is used by two shops or two deploy targets."

_FIELDS = (  # binding list, then (field, label) in report order
    ("d1_databases", (("database_id", "D1 database_id"), ("database_name", "D1 database_name"),
                      ("preview_database_id", "D1 preview_database_id"))),
    ("r2_buckets", (("bucket_name", "R2 bucket"), ("preview_bucket_name", "R2 preview bucket"))),
    ("kv_namespaces", (("id", "KV namespace"), ("preview_id", "KV preview namespace"))),
)

_QUEUE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("producers", ("queue",)), ("consumers", ("queue", "dead_letter_queue")))


class Use(NamedTuple):
    """One use of a resource identity by one deploy target."""

    label: str
    value: str
    rel: str
    parts: JsonPath
    tenant: Tenant | None
    env: str | None


# What `collect` yields: a plain tuple (cheap to send back from a worker process):
# (label, value, rel, parts, shop, stage, env); rebuilt into a `Use` only on a collision.
Record = tuple[str, str, str, JsonPath, "str | None", "str | None", "str | None"]


def records(f: ConfigFile, ctx: Context) -> Iterator[Record]:
    """Every use of a resource identity by the targets of `f`, with where it is."""
    shared_kv = ctx.fleet.shared_kv
    rel = f.rel
    for t in f.targets:
        target = t.target
        if target.error is not None:
            continue
        tenant = t.tenant
        shop, stage = (None, None) if tenant is None else tenant
        env = target.env
        worker = target.worker
        if worker is not None:
            yield ("Worker name", worker, rel, target.worker_origin, shop, stage, env)
        for key, fields in _FIELDS:
            bindings = target.indexed_bindings(key)
            if not bindings:
                continue
            origin = target.origin(key)
            for field, label in fields:
                for i, b in bindings:
                    value = b.get(field)
                    if isinstance(value, str) and value:
                        value = value.lower()
                        if label[0] == "K" and value in shared_kv:  # a shared KV namespace
                            continue
                        yield (label, value, rel, origin + (i, field), shop, stage, env)
        yield from _queue_and_workflow_records(t, rel)
        routes = target.routes
        if routes:
            origin = target.routes_origin
            for i, r in enumerate(routes):
                pattern = r.get("pattern") if isinstance(r, dict) else r
                if isinstance(pattern, str) and pattern:
                    yield ("route", pattern.lower(), rel, origin + (i,), shop, stage, env)


def collect(f: ConfigFile, ctx: Context) -> Iterator[tuple[str, str]]:
    """The map phase's light form of `records`: ("<label>\0<value>", rel) per use. Where a
    use is (its JSON path, tenant, env) is worked out again, from the file, only for the few
    identities used more than once (`_uses`)."""
    shared_kv = ctx.fleet.shared_kv
    rel = f.rel
    for t in f.targets:
        target = t.target
        if target.error is not None:
            continue
        worker = target.worker
        if worker is not None:
            yield "Worker name\0" + worker, rel
        for key, fields in _FIELDS:
            bindings = target.indexed_bindings(key)
            if not bindings:
                continue
            for field, label in fields:
                for _, b in bindings:
                    value = b.get(field)
                    if isinstance(value, str) and value:
                        value = value.lower()
                        if label[0] == "K" and value in shared_kv:  # a shared KV namespace
                            continue
                        yield f"{label}\0{value}", rel
        if "queues" in target.raw or "workflows" in target.raw:  # rare: the full form
            for record in _queue_and_workflow_records(t, rel):
                yield f"{record[0]}\0{record[1]}", rel
        routes = target.routes
        if routes:
            for r in routes:
                pattern = r.get("pattern") if isinstance(r, dict) else r
                if isinstance(pattern, str) and pattern:
                    yield "route\0" + pattern.lower(), rel


def _queue_and_workflow_records(t: TargetInfo, rel: str) -> Iterator[Record]:
    target = t.target
    shop, stage = (None, None) if t.tenant is None else t.tenant
    env = target.env
    queues = target.raw.get("queues")  # non-inheritable: the env's own
    if isinstance(queues, dict):
        origin = target.origin("queues")
        for side, qfields in _QUEUE_FIELDS:
            entries = queues.get(side)
            if isinstance(entries, list):
                for i, q in enumerate(entries):
                    if isinstance(q, dict):
                        for qfield in qfields:
                            name = q.get(qfield)
                            if isinstance(name, str) and name:
                                yield ("Queue", name.lower(), rel,
                                       origin + (side, i, qfield), shop, stage, env)
    if "workflows" in target.raw:
        for i, w in target.indexed_bindings("workflows"):
            name = w.get("name")
            if isinstance(name, str) and name:
                yield ("Workflow", name.lower(), rel,
                       target.origin("workflows") + (i, "name"), shop, stage, env)


# A summary maps each identity ("<label>\0<value>") to the config of its first use, and lists
# the configs using each identity this worker saw more than once. That is all that crosses back
# to the parent (records for a million identities would cost more to send than to find); the
# parent re-reads the few configs whose identity was used twice, here or in another worker.
Summary = tuple[dict[str, str], dict[str, list[str]]]


def summarize(items: list[tuple[str, str]]) -> Summary:
    """In each worker: the first config using each identity, and every config using those
    used twice (in map order, each once)."""
    first: dict[str, str] = {}
    collisions: dict[str, list[str]] = {}
    for key, rel in items:
        seen = first.get(key)
        if seen is None:
            first[key] = rel
        elif key in collisions:
            rels = collisions[key]
            if rels[-1] != rel:
                rels.append(rel)
        else:
            collisions[key] = [seen] if seen == rel else [seen, rel]
    return first, collisions


def _merge(ctx: Context, summaries: list[Summary]) -> dict[str, list[Record]]:
    """Every use of each identity used more than once, in map order. The set operations run
    in C, so only the colliding identities cost Python work."""
    first: dict[str, str] = {}
    rels: dict[str, list[str]] = {}
    for part_first, part_collisions in summaries:
        for key in part_collisions.keys() | (part_first.keys() & first.keys()):
            earlier = rels.get(key) or ([first[key]] if key in first else [])
            later = part_collisions.get(key) or [part_first[key]]
            rels[key] = earlier + [r for r in later if r not in earlier]
        first = {**part_first, **first}  # the earlier part's first use wins
    out: dict[str, list[Record]] = {}
    for key, where in rels.items():
        uses = [record for rel in where for record in _uses(ctx, rel, key)]
        if len(uses) > 1:
            out[key] = uses
    return out


def _uses(ctx: Context, rel: str, key: str) -> list[Record]:
    """The uses of identity `key` in config `rel`, collected again from the file."""
    f = ctx.file_at(rel)
    found = [r for r in records(f, ctx) if f"{r[0]}\0{r[1]}" == key] if f is not None else []
    if not found:  # the file changed during the check
        label, _, value = key.partition("\0")
        found = [(label, value, rel, (), None, None, None)]
    return found


def _where(ctx: Context, u: Use) -> str:
    span = ctx.span_at(u.rel, u.parts)
    target = "top level" if u.env is None else f"env {u.env!r}"
    shop = f", shop {u.tenant.shop!r}" if u.tenant else ""
    return f"{u.rel}:{span.line}:{span.col} ({target}{shop})"


def _use(r: Record) -> Use:
    label, value, rel, parts, shop, stage, env = r
    return Use(label, value, rel, parts, None if shop is None else Tenant(shop, stage), env)


def registry_owner(ctx: Context, label: str, value: str) -> Tenant | None:
    """The tenant the registry (and naming templates) give identity `value` to, if any."""
    if label == "route":
        return ctx.fleet.owner_of("route", value)
    if label in ("Queue", "Workflow"):
        return ctx.fleet.owner_of(label.lower(), value)
    return ctx.owner_of(value)


def check(ctx: Context, collected: list[Summary]) -> Iterator[Problem]:
    for key, records in _merge(ctx, collected).items():
        label, _, value = key.partition("\0")
        uses = [_use(r) for r in records]
        tenants = {u.tenant for u in uses}
        if label != "Worker name" and len(tenants) < 2:
            continue  # one tenant binding its own resource twice is not a swap
        # when the registry gives the identity to one of the tenants using it, only the
        # others are at fault (one finding per cause, on the shop that took it)
        owner = registry_owner(ctx, label, value)
        report = uses
        if owner is not None and owner in tenants and len(tenants) > 1:
            report = [u for u in uses if u.tenant != owner]
        for use in report:
            others = [o for o in uses if o is not use]
            where = "; ".join(_where(ctx, o) for o in others[:5])
            more = f" and {len(others) - 5} more" if len(others) > 5 else ""
            yield Problem(None, use.rel, use.parts, f"{label} is also used by {where}{more}",
                          use.tenant.shop if use.tenant else None,
                          span=ctx.span_at(use.rel, use.parts))
