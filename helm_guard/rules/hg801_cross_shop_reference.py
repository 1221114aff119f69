"""## What it does
Looks at every other string a deploy target carries (service bindings, Durable Object
`script_name`, queues, KV ids, Hyperdrive, tail consumers, routes, vars, ...) and reports any
that names another shop's resource: its Worker, database, bucket, registered ids or routes.
D1 and R2 fields have their own rules (HG401-HG502).

## Why is this bad?
A service binding to `helm-bravo`, a queue named `helm-bravo-orders` or a var holding bravo's
database id lets acme's Worker reach bravo's data by another road.

## Example
```jsonc
"services": [{"binding": "BILLING", "service": "helm-bravo"}]
```

Use instead:
```jsonc
"services": [{"binding": "BILLING", "service": "helm-billing"}]  // listed in shared.services
```
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from helm_guard.checker import Context, Problem, TargetInfo
from helm_guard.jsonc import JsonPath
from helm_guard.resolve import NON_INHERITABLE
from helm_guard.rules._common import belongs, foreign

ID = "HG801"
NAME = "cross-shop-reference"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A binding, route or var names another shop's resource."

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# fields judged by the D1/R2 rules
_SKIP = {("d1_databases", "database_name"), ("d1_databases", "database_id"),
         ("d1_databases", "preview_database_id"), ("r2_buckets", "bucket_name"),
         ("r2_buckets", "preview_bucket_name")}


def _strings(value: Any, parts: JsonPath) -> Iterator[tuple[JsonPath, str]]:
    stack: list[tuple[Any, JsonPath]] = [(value, parts)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, str):
            yield p, v
        elif isinstance(v, Mapping):
            stack.extend((x, p + (k,)) for k, x in v.items())
        elif isinstance(v, list):
            stack.extend((x, p + (i,)) for i, x in enumerate(v))


def _candidates(text: str) -> Iterator[str]:
    yield text
    for token in _TOKEN.findall(text):
        yield token
        if "." in token:
            yield from token.split(".")


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    if target.error is not None or (t.tenant is None and not t.is_base):
        return
    roots: list[tuple[str, Any]] = [(k, target.get(k)) for k in NON_INHERITABLE
                                    if target.get(k) is not None]
    if target.get("routes") is not None:
        roots.append(("routes", target.get("routes")))
    if target.get("route") is not None:
        roots.append(("route", target.get("route")))
    for key, value in roots:
        for parts, text in _strings(value, target.origin(key)):
            rel = parts[len(target.origin(key)):]
            if len(rel) >= 2 and (key, rel[-1]) in _SKIP:
                continue
            for cand in _candidates(text):
                other = foreign(ctx, t, cand)
                if other is not None:
                    yield ctx.problem(t, parts, f'"{key}" names another shop\'s resource '
                                      f"{cand!r}{belongs(other)}")
                    break
