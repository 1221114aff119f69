"""Scenario 11: a custom build command that deploys another shop (issue 11's worst case).

wrangler runs `build.command` through a shell during `versions upload`, with the Cloudflare
token in its environment; the demonstrated attack's script uploaded and activated a version of
another shop's Worker bound to this shop's resources. The guard must refuse the config in the
hook and the gate, `helm-guard deploy` must refuse it again before wrangler runs (belt and
braces: the deploy is where the token is), and the other shop's Worker must be untouched.
"""

from __future__ import annotations

from helm_guard import jsonc
from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import (
    CannotInject,
    FleetView,
    Located,
    commit_fault,
    expect_exit,
    insert_member,
)

NAME = "build-command-swap"
TITLE = "A custom build command that deploys another shop"
HYPOTHESIS = ("A config whose `build.command` would deploy another shop's Worker with the "
              "deploy token is refused by the pre-commit hook and the gate, `helm-guard deploy` "
              "refuses it before wrangler runs, and the other shop's Worker stays untouched.")
FAULT = ('`"build": {"command": "sh prebuild.sh"}` in shop A\'s config; prebuild.sh runs '
         "`wrangler deploy --name <shop B's Worker>` (it would, with the token).")
FRESH = True
NEEDS_WRANGLER = True
MARKER = ".drill-build-ran"


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("inject")
    view = FleetView(ws)
    a, b = view.pair("d1_databases", "database_id")
    victim = view.target_of(b.shop).target.worker
    if victim is None:
        raise CannotInject(f"shop {b.shop}'s target has no Worker name")
    folder = ws.path / a.rel
    script = (f"#!/bin/sh\n# drill: the attack (never run by helm-guard)\n"
              f'touch "{ws.path / MARKER}"\n'
              f'"{ws.sandbox.wrangler or "wrangler"}" deploy --name {victim} '
              f'--config "{folder.name}"\n')
    (folder.parent / "prebuild.sh").write_text(script, encoding="utf-8")
    insert_member(ws, a.rel, (), "build", {"command": "sh prebuild.sh"})
    doc = jsonc.parse_text(ws.read(a.rel), a.rel)
    if doc.error is not None:
        raise CannotInject(f"{a.rel} does not parse after the edit")
    place = Located(a.shop, a.rel, ("build",), doc.value["build"],  # type: ignore[index]
                    doc.key_span(("build",)).line)
    commit_fault(ws, rec, f"drill: a build command in {a.shop} that deploys {victim}", [place])

    rec.begin("deploy")
    if ws.sandbox.wrangler is None:
        rec.expect("the real wrangler is available", "wrangler 4.86.0",
                   "not found: run `npm ci --prefix tests/node`", False)
        return
    emu = ws.sandbox.emulator
    before = emu.seed_version(victim, [], deploy=True, message="drill: the other shop")
    emu.clear_requests()
    deployed = ws.helm("helm-guard deploy (the shop with the build command)", "deploy",
                       "--shop", a.shop, *ws.fleet_args())
    if expect_exit(rec, "helm-guard deploy refuses", deployed, 1):
        rec.timing("block", deployed.seconds)
    said = "build" in deployed.output
    rec.expect("the refusal names the build command", "'build' in the output",
               "named" if said else f"not named: {rec.excerpt(deployed)}", said)
    writes = [(r["method"], r["path"]) for r in emu.requests if r["method"] != "GET"]
    rec.expect("nothing was uploaded or activated on Cloudflare", "no POST/PUT/PATCH/DELETE",
               f"{len(writes)} writing requests", not writes)
    live = (emu.live_version(victim) or {}).get("id")
    count = len(emu.versions(victim))
    rec.expect(f"shop {b.shop}'s Worker {victim} is untouched", "the same live version, 1 version",
               f"live {'unchanged' if live == before else live}, {count} version(s)",
               live == before and count == 1)
    ran = (ws.path / MARKER).exists()
    rec.expect("the build command never ran", f"no {MARKER}", "ran" if ran else "not run",
               not ran)
