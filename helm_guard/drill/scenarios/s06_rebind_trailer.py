"""Scenario 6: a rebind (a shop's D1 database_id changed in registry and config together) is
blocked without the `Helm-Rebind: <slug>` trailer and allowed, and reported, with it."""

from __future__ import annotations

import re
import uuid

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import (
    CannotInject,
    FleetView,
    apply_edits,
    expect_exit,
    fleet_rel,
    gate,
    replace_value,
)
from helm_guard.drill.scenarios._setup import ensure_pair

NAME = "rebind-trailer"
TITLE = "Rebind without, then with, the Helm-Rebind trailer"
HYPOTHESIS = ("Moving a shop to another D1 database (registry and config changed together, so "
              "the check is clean) is blocked by the gate unless a commit of the range carries "
              "`Helm-Rebind: <slug>`; with the trailer the gate allows it and reports the rebind.")
FAULT = "shop A's database_id changed to a new UUID in the fleet registry and in its config."
FRESH = False


def _mentions_rebind(text: str, shop: str) -> bool:
    return bool(re.search(r"rebind", text, re.I)) and shop in text


def run(ws: Workspace, rec: Record) -> None:
    loc, _ = ensure_pair(ws, rec, "d1_databases", "database_id")
    rec.begin("inject")
    view = FleetView(ws)
    shop = loc.shop
    if view.fleet.shops.get(shop, {}).get("database_id") != loc.value:
        raise CannotInject(f"shop {shop}'s config and registry disagree before the drill")
    new_id = str(uuid.uuid4())
    apply_edits(ws, [replace_value(ws, fleet_rel(ws), ("shops", shop, "database_id"), new_id),
                     replace_value(ws, loc.rel, loc.path, new_id)])
    message = f"drill: move {shop} to a new D1 database"

    rec.begin("pre-commit")
    run = ws.commit("git commit (pre-commit hook)", message)
    expect_exit(rec, "a consistent rebind passes the whole-fleet check (only the gate can see "
                "it)", run, 0)
    if run.exit_code != 0:
        ws.commit("git commit --no-verify", message, verify=False)

    rec.begin("gate without trailer")
    run = gate(ws, "helm-guard gate (no trailer)")
    if expect_exit(rec, "the gate blocks an unacknowledged rebind", run, 1):
        rec.timing("detect", run.seconds)
        rec.timing("block", run.seconds)
    text = run.output + ws.github_files()
    rec.expect("the refusal names the rebind and the shop", f"'rebind' and '{shop}' in output",
               "named" if _mentions_rebind(text, shop) else f"missing: {rec.excerpt(run)}",
               _mentions_rebind(text, shop))

    rec.begin("gate with trailer")
    ws.reset_outputs()
    amend = ws.commit("git commit --amend (add trailer)",
                      f"{message}\n\nHelm-Rebind: {shop}\n", verify=False, amend=True)
    if amend.exit_code != 0:
        raise RuntimeError(f"could not amend the commit: {rec.excerpt(amend)}")
    run = gate(ws, "helm-guard gate (Helm-Rebind trailer)")
    expect_exit(rec, f"the gate allows the rebind acknowledged by `Helm-Rebind: {shop}`", run, 0)
    text = run.output + ws.github_files()
    rec.expect("the allowed rebind is reported (output or job summary)",
               f"'rebind' and '{shop}' in the gate's output",
               "reported" if _mentions_rebind(text, shop) else f"not reported: {rec.excerpt(run)}",
               _mentions_rebind(text, shop))
