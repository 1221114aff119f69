"""Scenario 10: the full incident on the emulated Cloudflare: a version binding another shop's
database is live; the operator halts, rolls back (the tool must choose the newest version whose
bindings are the shop's own, skipping the swapped previous deployment), the live version is
verified, an incident file is written, and deploys are resumed."""

from __future__ import annotations

import json

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import expect_exit
from helm_guard.drill.scenarios._swap import seed_ledger, swap_setup, version_bindings

NAME = "live-swap-incident"
TITLE = "Swapped version live: halt, rollback, verify, incident file, resume"
HYPOTHESIS = ("With a swapped version live and another swapped version as the previous "
              "deployment, `halt` then `rollback --yes` restores the newest version bound to the "
              "shop's own resources (not wrangler's default), verifies it live, writes the "
              "incident file, and `resume` lifts the halt.")
FAULT = ("emulated Cloudflare history of shop A's Worker: good v1, good v2 (both in the "
         "ledger), then v3 and v4 deployed with shop B's D1 database id.")
FRESH = True
NEEDS_WRANGLER = True
DRILL_ACTOR = "helm-guard drill"


def run(ws: Workspace, rec: Record) -> None:
    setup = swap_setup(ws, rec)
    if setup is None:
        return
    a, b, target, worker = setup
    emu = ws.sandbox.emulator
    good = version_bindings(target)
    swapped = version_bindings(target, d1_override=str(b.value))
    v1 = emu.seed_version(worker, good, deploy=True, message="drill: good v1")
    v2 = emu.seed_version(worker, good, deploy=True, message="drill: good v2")
    ledger = all(seed_ledger(ws, a.shop, {
        "action": "deploy", "worker": worker, "version_id": v, "commit": ws.start_sha,
        "digest": None, "actor": DRILL_ACTOR, "message": "seeded by the drill"})
        for v in (v1, v2))
    v3 = emu.seed_version(worker, swapped, deploy=True, message="drill: swapped v3")
    v4 = emu.seed_version(worker, swapped, deploy=True, message="drill: swapped v4")
    names = {v1: "v1 (good)", v2: "v2 (good)", v3: "v3 (swapped)", v4: "v4 (swapped)"}
    before = str((emu.live_version(worker) or {}).get("id", ""))
    rec.expect("set-up: the swapped version is live, the previous deployment is swapped too",
               f"live {names[v4]}",
               f"live {names.get(before, 'unknown')}; ledger "
               f"{'seeded' if ledger else 'not available'}", before == v4)

    rec.begin("detect (rollback --dry-run)")
    emu.clear_requests()
    run = ws.helm("helm-guard rollback --dry-run", "rollback", "--shop", a.shop, "--dry-run",
                  *ws.fleet_args())
    expect_exit(rec, "the dry run shows the plan", run, 0)
    if run.exit_code == 0:
        rec.timing("detect", run.seconds)
    rec.expect(f"the plan names the other shop whose database the live version binds ({b.shop})",
               f"'{b.shop}' in output", "named" if b.shop in run.output else
               f"missing: {rec.excerpt(run)}", b.shop in run.output)
    posts = [r for r in emu.requests if r["method"] != "GET"]
    rec.expect("the dry run changes nothing on Cloudflare", "no POST/PUT/PATCH/DELETE",
               f"{len(posts)} writing requests", not posts)

    rec.begin("halt")
    run = ws.helm("helm-guard halt", "halt", "--reason",
                  f"drill: {worker} binds {b.shop}'s database")
    if expect_exit(rec, "halt succeeds", run, 0):
        rec.timing("halt", run.seconds)

    rec.begin("rollback")
    run = ws.helm("helm-guard rollback --yes", "rollback", "--shop", a.shop, "--yes",
                  *ws.fleet_args())
    if expect_exit(rec, "rollback completes and verifies", run, 0):
        rec.timing("restore", run.seconds)
    live = (emu.live_version(worker) or {}).get("id")
    rec.expect("rollback chose the newest version bound to the shop's own resources, skipping "
               "the swapped previous deployment", f"live {names[v2]} (not v3/v4, not v1)",
               f"live {names.get(live or '', live)}"
               + ("" if live == v2 else f": {rec.excerpt(run)}"), live == v2)
    live_bindings = (emu.live_version(worker) or {}).get("resources", {}).get("bindings", [])
    ids = sorted(x.get("id") for x in live_bindings if x.get("type") == "d1")
    rec.expect("the live version binds the shop's own D1 database", f"d1 ids [{a.value}]",
               f"d1 ids {ids}", ids == [a.value])

    rec.begin("incident file")
    found = sorted((ws.path / "docs" / "incidents").glob(f"*{a.shop}*.md"))
    text = found[-1].read_text(encoding="utf-8") if found else ""
    rec.expect("an incident file docs/incidents/<date>-<slug>.md is written",
               f"docs/incidents/*-{a.shop}.md", found[-1].name if found else "none", bool(found))
    rec.expect("the incident file names both shops and has the unchecked checklist",
               f"'{a.shop}', '{b.shop}' and '- [ ]'",
               "complete" if (a.shop in text and b.shop in text and "- [ ]" in text)
               else "incomplete", a.shop in text and b.shop in text and "- [ ]" in text)

    rec.begin("resume")
    st = ws.helm("helm-guard status (before resume)", "status", "--format", "json")
    active = _active(st.stdout)
    rec.expect("the halt is still in force after the rollback", "at least one active halt",
               f"{active} active" if active is not None else f"unreadable: {rec.excerpt(st)}",
               bool(active))
    run = ws.helm("helm-guard resume", "resume", "--reason", "drill: cause fixed, audited")
    expect_exit(rec, "resume succeeds", run, 0)
    st = ws.helm("helm-guard status (after resume)", "status", "--format", "json")
    active = _active(st.stdout)
    rec.expect("no halt is active after resume", "0 active",
               f"{active} active" if active is not None else f"unreadable: {rec.excerpt(st)}",
               active == 0)


def _active(stdout: str) -> int | None:
    try:
        return len(json.loads(stdout)["active"])
    except (ValueError, KeyError, TypeError):
        return None
