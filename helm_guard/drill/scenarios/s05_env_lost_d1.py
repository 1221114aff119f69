"""Scenario 5: the inheritance trap: an env loses its `d1_databases`, while the top level still
has one (wrangler only warns; the env's Worker silently has no database)."""

from __future__ import annotations

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import (
    CannotInject,
    FleetView,
    Located,
    commit_fault,
    delete_member,
)

NAME = "env-lost-d1"
TITLE = "An env lost its d1_databases (inheritance trap)"
HYPOTHESIS = ("When an env's d1_databases is deleted while the top level keeps one, the commit "
              "is refused and the gate blocks (HG701: envs do not inherit bindings).")
FAULT = "the d1_databases member of one env removed; the top level's left in place."
FRESH = False


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("inject")
    view = FleetView(ws)
    for t in view.targets:
        env = t.target.env
        if env is None or t.tenant is None or t.file.doc is None:
            continue
        if t.target.raw.get("d1_databases") and t.target.top.get("d1_databases"):
            line = t.file.doc.key_span(("env", env)).line
            place = Located(t.tenant.shop, t.file.rel, ("env", env), None, line)
            delete_member(ws, t.file.rel, ("env", env, "d1_databases"))
            commit_fault(ws, rec, f"drill: drop d1_databases from env {env} of {t.file.rel}",
                         [place], "HG701")
            return
    raise CannotInject("no config has an env with d1_databases below a top level with "
                       "d1_databases")
