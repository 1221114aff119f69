"""## What it does
Fleet-wide: reports any resource identity used by two different shops (or stages), or by two
deploy targets: Worker name, D1 `database_id`, `database_name` and `preview_database_id`, R2
`bucket_name` and `preview_bucket_name`, KV namespace `id`/`preview_id`, and route patterns /
custom domains. Each occurrence is reported, naming the others (file and line). Resources
listed in the fleet's `shared` section are exempt.

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
from typing import NamedTuple

from helm_guard.checker import ConfigFile, Context, Problem, TargetInfo
from helm_guard.fleet import Tenant
from helm_guard.jsonc import JsonPath

ID = "HG601"
NAME = "shared-resource"
SEVERITY = "error"
SCOPE = "fleet"
SUMMARY = "A resource identity is used by two shops or two deploy targets."

_FIELDS = (
    ("d1_databases", "database_id", "D1 database_id"),
    ("d1_databases", "database_name", "D1 database_name"),
    ("d1_databases", "preview_database_id", "D1 preview_database_id"),
    ("r2_buckets", "bucket_name", "R2 bucket"),
    ("r2_buckets", "preview_bucket_name", "R2 preview bucket"),
    ("kv_namespaces", "id", "KV namespace"),
    ("kv_namespaces", "preview_id", "KV preview namespace"),
)

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


def _identities(t: TargetInfo) -> Iterator[tuple[str, str, JsonPath]]:
    target = t.target
    if target.worker is not None:
        yield "Worker name", target.worker, target.worker_origin
    for key, field, label in _FIELDS:
        origin = target.origin(key)
        for i, b in target.indexed_bindings(key):
            value = b.get(field)
            if isinstance(value, str) and value:
                yield label, value.lower(), origin + (i, field)
    for i, r in enumerate(target.routes or ()):
        pattern = r.get("pattern") if isinstance(r, dict) else r
        if isinstance(pattern, str) and pattern:
            yield "route", pattern.lower(), target.routes_origin + (i,)


def collect(f: ConfigFile, ctx: Context) -> Iterator[Record]:
    shared_kv = ctx.fleet.shared_kv
    for t in f.targets:
        if t.target.error is not None:
            continue
        for label, value, parts in _identities(t):
            if label.startswith("KV") and value in shared_kv:
                continue
            tenant = t.tenant
            yield (label, value, f.rel, parts, tenant.shop if tenant else None,
                   tenant.stage if tenant else None, t.target.env)


def _where(ctx: Context, u: Use) -> str:
    span = ctx.span_at(u.rel, u.parts)
    target = "top level" if u.env is None else f"env {u.env!r}"
    shop = f", shop {u.tenant.shop!r}" if u.tenant else ""
    return f"{u.rel}:{span.line}:{span.col} ({target}{shop})"


def _use(r: Record) -> Use:
    label, value, rel, parts, shop, stage, env = r
    return Use(label, value, rel, parts, None if shop is None else Tenant(shop, stage), env)


def check(ctx: Context, collected: list[Record]) -> Iterator[Problem]:
    # one pass remembering the first use of each identity; lists only for collisions
    first: dict[tuple[str, str], Record] = {}
    collisions: dict[tuple[str, str], list[Record]] = {}
    for record in collected:
        key = (record[0], record[1])
        seen = first.get(key)
        if seen is None:
            first[key] = record
        elif key in collisions:
            collisions[key].append(record)
        else:
            collisions[key] = [seen, record]
    for (label, _value), records in collisions.items():
        uses = [_use(r) for r in records]
        if label != "Worker name" and len({u.tenant for u in uses}) < 2:
            continue  # one tenant binding its own resource twice is not a swap
        for use in uses:
            others = [o for o in uses if o is not use]
            where = "; ".join(_where(ctx, o) for o in others[:5])
            more = f" and {len(others) - 5} more" if len(others) > 5 else ""
            yield Problem(None, use.rel, use.parts, f"{label} is also used by {where}{more}",
                          use.tenant.shop if use.tenant else None,
                          span=ctx.span_at(use.rel, use.parts))
