"""Preconditions a scenario needs and the fleet may not have: built inside the sandbox, committed
through the real pre-commit hook (the set-up must itself be clean), before the fault.

A drill verdict is about the guard, never about the fleet's shape: a fleet of one file per shop
and no envs has no "env whose d1_databases can go missing", so the scenario declares a stage,
registers it for a shop and adds the env first; a fleet whose only file is env-per-shop (whose
shared top level binds nothing, so the trap cannot exist there) gets a drill shop of its own in
the per-file layout. Every such change lives only in the sandbox and is named in the report.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from helm_guard.context import TargetInfo
from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import (
    CannotInject,
    FleetView,
    Located,
    apply_edits,
    fleet_rel,
    insert_member,
    replace_value,
)
from helm_guard.fleet import Tenant
from helm_guard.resolve import NON_INHERITABLE

DRILL_STAGE = "drill"
DRILL_DIR = "helm-drill"


class SetupFailed(Exception):
    """The sandbox set-up commit was refused: the report says why (an expectation failed)."""


def commit_setup(ws: Workspace, rec: Record, what: str) -> None:
    """Commit the set-up through the pre-commit hook; it must pass. The scenario then starts
    from this commit (the gate checks from here, a refused fault leaves HEAD here)."""
    rec.begin("set-up")
    run = ws.commit(f"git commit (drill set-up: {what})", f"drill set-up: {what}")
    ok = rec.expect(f"the drill's own set-up ({what}) is a clean commit (pre-commit hook passes)",
                    "exit 0", f"exit {run.exit_code}"
                    + ("" if run.exit_code == 0 else f": {rec.excerpt(run)}"),
                    run.exit_code == 0)
    if not ok:
        raise SetupFailed(f"the set-up commit ({what}) was refused")
    ws.start_sha = ws.head()


def _declare_stage(ws: Workspace, view: FleetView, stage: str) -> None:
    if stage in view.fleet.stages:
        return
    rel = fleet_rel(ws)
    if "stages" in view.fleet.data:
        apply_edits(ws, [replace_value(ws, rel, ("stages",), [*view.fleet.stages, stage])])
    else:
        insert_member(ws, rel, (), "stages", [stage])


def _register_stage(ws: Workspace, view: FleetView, shop: str, stage: str,
                    database_id: str) -> None:
    rel = fleet_rel(ws)
    entry = view.fleet.shops.get(shop, {})
    if isinstance(entry.get("stages"), dict):
        insert_member(ws, rel, ("shops", shop, "stages"), stage, {"database_id": database_id})
    else:
        insert_member(ws, rel, ("shops", shop), "stages", {stage: {"database_id": database_id}})


def _stage_block(view: FleetView, top: dict[str, Any], shop: str, stage: str,
                 database_id: str) -> dict[str, Any]:
    """An env for (shop, stage) that mirrors the top level's non-inheritable keys, bound to
    the stage's own resources (names from the fleet's naming templates)."""
    exp = view.fleet.expected(Tenant(shop, stage))
    block: dict[str, Any] = {"name": exp.worker}
    if "routes" in top or "route" in top:
        block["routes"] = []  # never inherit the production routes
    for key in NON_INHERITABLE:
        if key not in top:
            continue
        if key == "d1_databases":
            block[key] = [{"binding": b.get("binding"), "database_name": exp.database_name,
                           "database_id": database_id}
                          for b in top[key] if isinstance(b, dict)]
        elif key == "r2_buckets":
            block[key] = [{"binding": b.get("binding"), "bucket_name": exp.bucket_name}
                          for b in top[key] if isinstance(b, dict)]
        else:
            block[key] = top[key]
    return block


def _per_file_shop(view: FleetView) -> TargetInfo | None:
    for t in view.shop_targets():
        if t.file.entry.layout == "shop-per-file" and t.target.raw.get("d1_databases"):
            return t
    return None


def _new_shop_file(ws: Workspace, view: FleetView, stage: str | None) -> tuple[str, str]:
    """A drill shop in the per-file layout (registry entry, configs entry, config file with
    its own D1 and R2, and env `stage` when given)."""
    slug = next(s for s in (f"drill{i or ''}" for i in range(100)) if s not in view.fleet.shops)
    main_id = str(uuid.uuid4())
    exp = view.fleet.expected(Tenant(slug))
    top: dict[str, Any] = {"name": exp.worker, "main": "index.js",
                           "compatibility_date": "2026-11-01"}
    if view.fleet.account_id:
        top["account_id"] = view.fleet.account_id
    top["d1_databases"] = [{"binding": "DB", "database_name": exp.database_name,
                            "database_id": main_id}]
    top["r2_buckets"] = [{"binding": "ASSETS", "bucket_name": exp.bucket_name}]
    rel = f"{DRILL_DIR}/{slug}/wrangler.jsonc"
    fleet = fleet_rel(ws)
    insert_member(ws, fleet, ("shops",), slug, {"database_id": main_id})
    pattern = f"{DRILL_DIR}/*/wrangler.jsonc"
    configs = list(view.fleet.data.get("configs", ()))
    if pattern not in configs:
        apply_edits(ws, [replace_value(ws, fleet, ("configs",), [*configs, pattern])])
    (ws.path / DRILL_DIR / slug).mkdir(parents=True, exist_ok=True)
    ws.write(f"{DRILL_DIR}/{slug}/index.js",
             "export default { fetch() { return new Response('drill'); } };\n")
    if stage is not None:
        stage_id = str(uuid.uuid4())
        _declare_stage(ws, view, stage)
        _register_stage(ws, view, slug, stage, stage_id)
        top["env"] = {stage: _stage_block(view, top, slug, stage, stage_id)}
    ws.write(rel, json.dumps(top, indent=2) + "\n")
    return rel, slug


def _add_binding(ws: Workspace, view: FleetView, t: TargetInfo, kind: str) -> str:
    """Give target `t` a `kind` binding to its own resource (naming templates; a D1 id from
    the registry, registered first when the registry has none). Returns what was done."""
    assert t.tenant is not None
    exp = view.fleet.expected(t.tenant)
    if kind == "d1_databases":
        db_id = exp.database_id
        if db_id is None:
            db_id = str(uuid.uuid4())
            if t.tenant.stage is None:
                insert_member(ws, fleet_rel(ws), ("shops", t.tenant.shop), "database_id", db_id)
            else:
                apply_edits(ws, [replace_value(
                    ws, fleet_rel(ws), ("shops", t.tenant.shop, "stages", t.tenant.stage),
                    {**view.fleet.shops[t.tenant.shop]["stages"][t.tenant.stage],
                     "database_id": db_id})])
        binding: dict[str, Any] = {"binding": "DRILL_DB", "database_name": exp.database_name,
                                   "database_id": db_id}
    else:
        binding = {"binding": "DRILL_ASSETS", "bucket_name": exp.bucket_name}
    current = t.target.raw.get(kind)
    rel = t.file.rel
    if isinstance(current, list):
        apply_edits(ws, [replace_value(ws, rel, (*t.target.prefix, kind), [*current, binding])])
    else:
        insert_member(ws, rel, t.target.prefix, kind, [binding])
    return f"{kind} binding {binding['binding']} for {t.tenant.label()} in {rel}"


def ensure_pair(ws: Workspace, rec: Record, kind: str, field: str) -> tuple[Located, Located]:
    """Two shops' `kind[].field` values to swap; when the fleet has fewer than two shops that
    bind `kind`, the missing bindings (or shops) are added first as a clean set-up commit."""
    try:
        return FleetView(ws).pair(kind, field)
    except CannotInject:
        pass
    rec.begin("set-up")
    done: list[str] = []
    view = FleetView(ws)
    have = [t for t in view.shop_targets() if view.binding_field(t, kind, field) is not None]
    for t in view.shop_targets():
        if len(have) >= 2:
            break
        if t in have or t.file.doc is None:
            continue
        done.append(_add_binding(ws, view, t, kind))
        view = FleetView(ws)
        have = [t for t in view.shop_targets() if view.binding_field(t, kind, field) is not None]
    while len(have) < 2:
        rel, slug = _new_shop_file(ws, view, None)
        done.append(f"a drill shop {slug} ({rel})")
        view = FleetView(ws)
        have = [t for t in view.shop_targets() if view.binding_field(t, kind, field) is not None]
    commit_setup(ws, rec, "; ".join(done))
    return FleetView(ws).pair(kind, field)


def env_with_d1(ws: Workspace, rec: Record) -> tuple[str, str, str]:
    """(config, env, shop) of an env that binds d1_databases below a top level that binds
    them too; built (and committed as a clean set-up) when the fleet has none."""
    view = FleetView(ws)
    for t in view.targets:
        env = t.target.env
        if env is not None and t.tenant is not None and t.file.doc is not None \
                and t.target.raw.get("d1_databases") and t.target.top.get("d1_databases"):
            return t.file.rel, env, t.tenant.shop
    rec.begin("set-up")
    host = _per_file_shop(view)
    stage = _free_stage(view, host)
    if host is None:
        rel, shop = _new_shop_file(ws, view, stage)
        commit_setup(ws, rec, f"a drill shop {shop} in the per-file layout ({rel}) with stage "
                              f"env.{stage}, registered")
        return rel, stage, shop
    assert host.tenant is not None
    shop, rel = host.tenant.shop, host.file.rel
    stage_id = str(uuid.uuid4())
    _declare_stage(ws, view, stage)
    _register_stage(ws, FleetView(ws), shop, stage, stage_id)
    block = _stage_block(view, dict(host.target.raw), shop, stage, stage_id)
    if isinstance(host.target.raw.get("env"), dict):
        insert_member(ws, rel, ("env",), stage, block)
    else:
        insert_member(ws, rel, (), "env", {stage: block})
    commit_setup(ws, rec, f"stage {stage!r} declared, registered for {shop} and added to {rel} "
                          f"as env.{stage}")
    return rel, stage, shop


def _free_stage(view: FleetView, t: TargetInfo | None) -> str:
    """A declared stage the shop has no env for yet, else the drill's own stage name."""
    envs = set(t.target.raw.get("env") or {}) if t is not None else set()
    for stage in view.fleet.stages:
        if stage not in envs:
            return stage
    return DRILL_STAGE
