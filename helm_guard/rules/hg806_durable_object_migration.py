"""## What it does
Checks Durable Object `migrations` (inheritable: an env without its own applies the top
level's to its own Worker). `transferred_classes[].from_script` moves another Worker's Durable
Object namespace — all its stored objects — into this Worker: only the tenant's own Worker may
be named (compared exactly). `new_classes`, `new_sqlite_classes`, `renamed_classes` and
`deleted_classes` act on classes of the Worker being deployed, so they stay within the tenant
(`deleted_classes` destroys that Worker's own objects: a review matter, not a cross-shop one).
Any other key of a migration is not modelled and is refused.

## Why is this bad?
`{"from": "Cart", "from_script": "helm-bravo", "to": "Cart"}` takes bravo's carts: after the
deploy acme's Worker owns bravo's Durable Object storage and bravo's Worker has lost it.

## Example
```jsonc
"migrations": [{"tag": "v2", "transferred_classes": [
  {"from": "Cart", "from_script": "helm-bravo", "to": "Cart"}]}]
```

Use instead:
```jsonc
"migrations": [{"tag": "v2", "new_sqlite_classes": ["Cart"]}]
```
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from helm_guard.context import Context, Problem, TargetInfo
from helm_guard.rules._common import worker_reference

if TYPE_CHECKING:  # mypy checks this module against its shape (rules/types.py)
    from helm_guard.rules import hg806_durable_object_migration as _this
    from helm_guard.rules.types import TargetRule
    _: TargetRule = _this

ID = "HG806"
NAME = "durable-object-migration"
SEVERITY = "error"
SCOPE = "target"
SUMMARY = "A Durable Object migration moves another Worker's objects, or is not modelled."

_KEYS = frozenset({"tag", "new_classes", "new_sqlite_classes", "renamed_classes",
                   "deleted_classes", "transferred_classes"})


def check(t: TargetInfo, ctx: Context) -> Iterator[Problem]:
    target = t.target
    if t.tenant is None or target.error is not None:
        return
    migrations = target.get("migrations")
    if migrations is None:
        return
    origin = target.origin("migrations")
    if not isinstance(migrations, list):
        yield ctx.problem(t, origin, '"migrations" must be a list of migrations')
        return
    for i, m in enumerate(migrations):
        if not isinstance(m, Mapping):
            yield ctx.problem(t, origin + (i,), "a migration must be an object")
            continue
        for key in m:
            if key not in _KEYS:
                yield ctx.problem(t, origin + (i, key), f'migration key "{key}" is not '
                                  "modelled by helm-guard; remove it", at_key=True)
        transferred = m.get("transferred_classes")
        if transferred is None:
            continue
        if not isinstance(transferred, list):
            yield ctx.problem(t, origin + (i, "transferred_classes"),
                              '"transferred_classes" must be a list')
            continue
        for j, c in enumerate(transferred):
            path = origin + (i, "transferred_classes", j)
            value = c.get("from_script") if isinstance(c, Mapping) else None
            why = worker_reference(ctx, t, value)
            if why is None and value != ctx.fleet.owned(t.tenant).worker:
                why = (f"Worker {value!r} is shared, not this shop's: its Durable Objects are "
                       "not the shop's to take")
            if why is not None:
                yield ctx.problem(t, path + ("from_script",) if isinstance(c, Mapping) else path,
                                  f"transferred Durable Object class: {why}")
