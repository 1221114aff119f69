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

from collections import defaultdict
from collections.abc import Iterator

from helm_guard.checker import Context, Problem, TargetInfo
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

Use = tuple[TargetInfo, JsonPath]


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


def _where(t: TargetInfo, parts: JsonPath) -> str:
    place = t.file.rel
    if t.file.doc is not None:
        span = t.file.doc.span(parts)
        place = f"{place}:{span.line}:{span.col}"
    target = "top level" if t.target.env is None else f"env {t.target.env!r}"
    return f"{place} ({target}" + (f", shop {t.shop!r})" if t.shop else ")")


def check(ctx: Context) -> Iterator[Problem]:
    # one pass remembering the first use of each identity; lists only for collisions
    first: dict[tuple[str, str], Use] = {}
    collisions: dict[tuple[str, str], list[Use]] = {}
    shared_kv = ctx.fleet.shared_kv
    for t in ctx.targets:
        if t.target.error is not None:
            continue
        for label, value, parts in _identities(t):
            if label.startswith("KV") and value in shared_kv:
                continue
            key = (label, value)
            seen = first.get(key)
            if seen is None:
                first[key] = (t, parts)
            elif key in collisions:
                collisions[key].append((t, parts))
            else:
                collisions[key] = [seen, (t, parts)]
    for (label, _value), occurrences in collisions.items():
        if label != "Worker name" and len({t.tenant for t, _ in occurrences}) < 2:
            continue  # one tenant binding its own resource twice is not a swap
        for t, parts in occurrences:
            others = [o for o in occurrences if o[0] is not t or o[1] != parts]
            where = "; ".join(_where(o, p) for o, p in others[:5])
            more = f" and {len(others) - 5} more" if len(others) > 5 else ""
            yield ctx.problem(t, parts, f"{label} is also used by {where}{more}")
