"""The clean shape: one quick test per deploy target that vouches for a whole group of rules.

Almost every target of a healthy fleet has the same plain shape: a registered shop (or stage)
whose Worker has the expected name, binds exactly its own D1 database (name and registry id)
and its own R2 bucket, no preview resources, no other binding and no key outside
`PLAIN_KEYS` (so no service, unsafe, KV, Durable Object, queue, Workflow, migration, build or
unmodelled key), the pinned account, and (for an env) everything the top level has and
routes of its own. For such a
target none of the rules in `COVERS` can report anything, so the engine runs them only on the
targets that fail this test. On 10,000 shops that skips about 20 rule calls per target (a
fifth of a check's time); every other rule still sees every target.

`is_clean` must never be laxer than the rules it covers: each condition below is the negation
of the covered rules' triggers, read from their modules, and `tests/test_clean_shape.py` checks
on mutated fleets that a check with the skipping gives exactly the findings of one without it.
When in doubt it says "not clean": that only costs time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from helm_guard.fleet import UUID_RE

if TYPE_CHECKING:
    from helm_guard.context import Context, TargetInfo

# The rules a clean target cannot trigger (target scope only).
COVERS = frozenset({
    "HG203",  # wrangler validation: no target error
    "HG301",  # worker name: the expected one
    "HG401", "HG402", "HG403", "HG404",  # D1: own name, registry id, no preview id
    "HG501", "HG502",  # R2: own bucket, no preview bucket
    "HG603",  # registered shop and stage
    "HG604",  # the pinned account
    "HG605",  # not the shared base of an env-per-shop file
    "HG701", "HG702",  # an env: no inheritance gap, routes of its own
    "HG802",  # no service or unsafe bindings
    "HG503", "HG803", "HG805", "HG806",  # no KV, Durable Object, tail consumer, queue,
    # Workflow, dispatch namespace or migration: only `PLAIN_KEYS`
    "HG206", "HG207",  # no unmodelled key and no build: only `PLAIN_KEYS` in its block
})

# The keys a clean target may carry (its own block and, for an env, the top level it inherits
# from): none of them is judged by a covered rule beyond the conditions `is_clean` tests. Any
# other key (a binding, `migrations`, `build`, `previews`, an unmodelled key) makes the target
# "not clean", so every rule sees it.
PLAIN_KEYS = frozenset({
    "$schema", "name", "main", "compatibility_date", "compatibility_flags", "account_id",
    "workers_dev", "preview_urls", "routes", "route", "vars", "d1_databases", "r2_buckets",
    "triggers", "observability", "limits", "logpush", "placement", "minify", "keep_names",
    "upload_source_maps", "send_metrics", "dev", "env", "secrets",
})


def is_clean(t: TargetInfo, ctx: Context) -> bool:
    """Whether no rule in `COVERS` can report anything about `t`."""
    target = t.target
    tenant = t.tenant
    if tenant is None or t.unresolved is not None or t.is_base or target.error is not None:
        return False
    fleet = ctx.fleet
    entry = fleet.shops.get(tenant.shop)
    if entry is None:
        return False
    if tenant.stage is not None:
        stages = entry.get("stages")
        if not (type(stages) is dict or isinstance(stages, Mapping)) or tenant.stage not in stages:
            return False
    exp = fleet.expected(tenant)
    if target.worker != exp.worker:
        return False
    raw = target.raw
    env = target.env
    pinned = fleet.account_id
    if pinned is not None and (not pinned or target.get("account_id") != pinned):
        return False
    # only plain keys, in the target's block and in the top level an env inherits from
    if not raw.keys() <= PLAIN_KEYS or (env is not None and not target.top.keys() <= PLAIN_KEYS):
        return False
    database_id = exp.database_id
    if not isinstance(database_id, str) or not UUID_RE.match(database_id):
        return False
    d1 = raw.get("d1_databases")
    if not isinstance(d1, list) or not d1:
        return False
    database_name = exp.database_name
    for b in d1:
        if (not isinstance(b, dict) or b.get("database_name") != database_name
                or b.get("database_id") != database_id or "preview_database_id" in b
                or "database_internal_env" in b):
            return False
    r2 = raw.get("r2_buckets")
    if not isinstance(r2, list) or not r2:
        return False
    bucket_name = exp.bucket_name
    for b in r2:
        if (not isinstance(b, dict) or b.get("bucket_name") != bucket_name
                or "preview_bucket_name" in b):
            return False
    if env is not None:
        if target.has_warnings:  # the inheritance gaps HG701 reports
            return False
        if "routes" not in raw and "route" not in raw and (
                target.top.get("routes") or target.top.get("route")):
            return False
    return True
