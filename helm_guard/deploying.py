"""What `deploy` and `rollback` share: the one judge of a version, the wrangler to run, who acts,
where the state lives, and how a difference is explained.

Commands import this library (never the reverse): `commands/deploy.py`, `commands/rollback.py`
and the steps in `helm_guard.rollback` all judge a Cloudflare version with `judge`, so a
binding the registry lists is accepted everywhere and one it does not list is refused
everywhere, with the same message and the same fix (`check` applies the same registry record,
`Fleet.owned`, to the config side).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from helm_guard.bindings import Mismatch, _worker_owner, describe, judge_bindings, other_shops
from helm_guard.cloudflare.wrangler import Wrangler
from helm_guard.errors import UsageError
from helm_guard.fleet import Fleet, Tenant
from helm_guard.hosts import Served, judge_hosts

#: Attachments of a Worker that are not bindings but reach another Worker: judged like one.
TAIL_TYPES = ("tail_consumer", "streaming_tail_consumer")


def judge(fleet: Fleet, tenant: Tenant, bindings: Iterable[Mapping[str, Any]]) -> list[Mismatch]:
    """THE judge of a Cloudflare version for deploy and rollback: every way `bindings` (API
    shape, plus tail consumers as `{"type": "tail_consumer", "service": ...}`) differ from
    what `tenant` owns; [] = all its own. Any binding type helm-guard does not model is a
    difference (fail closed). One call: `bindings.judge_bindings`, over `Fleet.owned`, the
    record `check` applies to the config side."""
    return judge_bindings(fleet, tenant, [
        {**b, "type": "tail_consumer"} if b.get("type") in TAIL_TYPES else b for b in bindings
    ])


def tail_bindings(settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A Worker's tail consumers (script settings or a config) as judge-able entries."""
    out: list[dict[str, Any]] = []
    for key, kind in (("tail_consumers", "tail_consumer"),
                      ("streaming_tail_consumers", "streaming_tail_consumer")):
        raw = settings.get(key)
        if raw is None:
            continue
        items = raw if isinstance(raw, list) else [raw]
        for i, item in enumerate(items):
            service = item.get("service") if isinstance(item, Mapping) else None
            out.append({"name": f"{key}[{i}]", "type": kind, "service": service})
    return out


# ---------------------------------------------------------------------- shared helpers
def remote_of(fleet: Fleet, explicit: str | None) -> str:
    """`--remote`, else the fleet file's `state.remote`, else origin."""
    remote = explicit or (fleet.data.get("state") or {}).get("remote") or "origin"
    if remote.startswith("-") or not remote.strip():
        raise UsageError(f"--remote {remote!r} is not a remote name")
    return str(remote)


def make_wrangler(args: argparse.Namespace, fleet: Fleet) -> Wrangler:
    """The wrangler to run, from `--wrangler`/`$HELM_GUARD_WRANGLER`/the fleet root."""
    return Wrangler(args.wrangler, fleet_root=fleet.root, timeout=args.wrangler_timeout)


def actor(repo: Path) -> str:
    """Who is acting: `$GITHUB_ACTOR` in CI, else the git identity."""
    from helm_guard import gitio

    if os.environ.get("GITHUB_ACTOR"):
        return f"{os.environ['GITHUB_ACTOR']} (GitHub Actions)"
    try:
        return gitio.identity(repo)
    except gitio.GitError:
        return "unknown"


def safe_bindings(bindings: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Bindings reduced to name, type and the identity they point at: what the ledger and
    the screen may show (no var values, and secrets never carry values anyway)."""
    return [{"name": str(b.get("name")), "type": str(b.get("type")), "points_at": describe(b)}
            for b in bindings]


def explain(diffs: list[Mismatch], shop: str) -> str:
    """The differences as lines, ending with the other shops involved."""
    lines = [f"  - {d.message}" for d in diffs]
    others = other_shops(diffs, shop)
    if others:
        lines.append(f"  other shop(s) involved: {', '.join(others)}")
    return "\n".join(lines)


def judge_attachments(fleet: Fleet, tenant: Tenant, settings: Mapping[str, Any],
                      served: Iterable[Served],
                      namespaces: Iterable[Mapping[str, Any]] = (),
                      declared: frozenset[str] | None = None,
                      previews: Mapping[str, Any] | None = None) -> list[Mismatch]:
    """What is attached to the tenant's Worker besides its bindings: tail consumers (script
    settings), the routes and custom domains read back (`hosts.judge_hosts`, the judge the
    audit uses too), when `declared` is given the account's Durable Object namespaces
    (`judge_namespaces`), and the preview settings' bindings and tail consumers
    (`judge_previews`). [] = all its own; anything unmodelled is a difference."""
    diffs = [d for d in judge(fleet, tenant, tail_bindings(settings))
             if d.type not in ("d1", "r2_bucket")]
    if previews:
        diffs += judge_previews(fleet, tenant, previews)
    expected = ", ".join(sorted(fleet.owned(tenant).route_hosts)) or "(none)"
    diffs += [Mismatch(p.pattern, p.kind.replace("-", "_"), p.host, expected, p.other, p.message)
              for p in judge_hosts(fleet, tenant, served)]
    if declared is not None:
        diffs += judge_namespaces(fleet, tenant, namespaces, declared)
    return diffs


def preview_bindings(defaults: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The bindings of a Worker's preview settings (`preview_defaults.env`, `{name: {type,
    ...}}`, wrangler's `extractConfigBindings` shape) as API-shaped bindings, plus its tail
    consumers (`[{name: <service>}]`). A D1 binding there names its database `database_id`:
    it is judged as `id` (both, when both are given and differ). Another shape: unmodelled."""
    out: list[dict[str, Any]] = []
    env = defaults.get("env")
    if isinstance(env, Mapping):
        for name, b in env.items():
            if not isinstance(b, Mapping):
                out.append({"name": str(name), "type": "(not an object)"})
                continue
            if b.get("type") == "d1":
                ids = {b.get("id"), b.get("database_id")} - {None}
                out += [{**b, "name": str(name), "id": i} for i in sorted(ids, key=str) or [None]]
            else:
                out.append({**b, "name": str(name)})
    elif env is not None:
        out.append({"name": "preview_defaults.env", "type": "(not an object)"})
    tails = defaults.get("tail_consumers")
    for i, t in enumerate(tails if isinstance(tails, list) else [] if tails is None else [tails]):
        service = (t.get("service") or t.get("name")) if isinstance(t, Mapping) else None
        out.append({"name": f"previews.tail_consumers[{i}]", "type": "tail_consumer",
                    "service": service})
    return out


def judge_previews(fleet: Fleet, tenant: Tenant, defaults: Mapping[str, Any]) -> list[Mismatch]:
    """The preview settings judged like a version (`judge`, i.e. `judge_bindings`): every
    binding a Preview deployment of the tenant's Worker would get must be the tenant's own.
    Unlike a version, preview settings need not bind the shop's database and bucket."""
    found = judge(fleet, tenant, preview_bindings(defaults))
    return [d._replace(message="preview settings: " + d.message) for d in found
            if not (d.binding == "-" and d.actual == "(none)")]


def declared_classes(target: Any, worker: str) -> frozenset[str]:
    """The Durable Object classes of `worker` a resolved config target declares: its
    `durable_objects.bindings` without another `script_name`, and what its `migrations`
    create, rename to or transfer in (in order, minus `deleted_classes`)."""
    classes: set[str] = set()
    steps = target.get("migrations") if target is not None else None
    for step in steps if isinstance(steps, list) else []:
        if not isinstance(step, Mapping):
            continue
        for key in ("new_classes", "new_sqlite_classes"):
            classes.update(c for c in step.get(key) or [] if isinstance(c, str))
        for key in ("renamed_classes", "transferred_classes"):
            for move in step.get(key) or []:
                if isinstance(move, Mapping) and isinstance(move.get("to"), str):
                    classes.discard(move.get("from") if key == "renamed_classes" else "")
                    classes.add(move["to"])
        classes.difference_update(c for c in step.get("deleted_classes") or []
                                  if isinstance(c, str))
    block = target.get("durable_objects") if target is not None else None
    bindings = block.get("bindings") if isinstance(block, Mapping) else None
    for b in bindings if isinstance(bindings, list) else []:
        if isinstance(b, Mapping) and isinstance(b.get("class_name"), str) and \
                b.get("script_name") in (None, worker):
            classes.add(b["class_name"])
    return frozenset(classes)


def judge_namespaces(fleet: Fleet, tenant: Tenant, namespaces: Iterable[Mapping[str, Any]],
                     declared: frozenset[str]) -> list[Mismatch]:
    """The account's Durable Object namespaces judged for the tenant's Worker W (the API's
    `{id, name, script, class}`; a namespace is created as `<script>_<class>` and keeps its
    id and name when a migration renames or transfers it):
    - a namespace of W created for another Worker: another Worker's objects moved to W;
    - a namespace created for W that now belongs to another Worker: W's objects moved away;
    - a namespace of W whose class the config does not declare (`declared_classes`)."""
    worker = fleet.owned(tenant).worker
    out: list[Mismatch] = []
    for ns in namespaces:
        script, cls, name = ns.get("script"), ns.get("class"), ns.get("name")
        origin = _origin(name, cls)
        label = f"Durable Object namespace {name} ({ns.get('id')})"
        if script == worker and not _created_for(name, worker):
            owner = _worker_owner(fleet, origin)
            whose = (f"shop {owner.label()}'s Worker {origin}" if owner
                     else f"Worker {origin}" if origin else "an unknown Worker")
            out.append(Mismatch(str(name), "durable_object_namespace", str(script), worker,
                                owner.label() if owner else None,
                                f"{label} was created for {whose} and now belongs to {worker} "
                                f"(class {cls}): another Worker's objects were transferred"))
        elif script == worker and cls not in declared:
            out.append(Mismatch(str(name), "durable_object_namespace", str(cls),
                                ", ".join(sorted(declared)) or "(none)", None,
                                f"{label} of {worker} holds class {cls}, which the config "
                                "does not declare (durable_objects.bindings / migrations)"))
        elif script != worker and _created_for(name, worker) and \
                not (isinstance(script, str) and _created_for(name, script)):
            owner = _worker_owner(fleet, script)
            whose = f"shop {owner.label()}'s Worker" if owner else "Worker"
            out.append(Mismatch(str(name), "durable_object_namespace", str(script), worker,
                                owner.label() if owner else None,
                                f"{label} was created for {worker} and now belongs to {whose} "
                                f"{script}: {worker}'s objects were transferred away"))
    return out


def _created_for(name: object, worker: str) -> bool:
    """Whether namespace `name` was created for `worker` (`<worker>_<class>`)."""
    return isinstance(name, str) and name.startswith(worker + "_")


def _origin(name: object, cls: object) -> str | None:
    """The Worker a namespace was created for, read from its name (for messages)."""
    if not isinstance(name, str) or "_" not in name:
        return None
    if isinstance(cls, str) and name.endswith("_" + cls):
        return name[: -len(cls) - 1]
    return name.split("_", 1)[0]
