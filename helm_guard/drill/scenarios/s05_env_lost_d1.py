"""Scenario 5: the inheritance trap: an env loses its `d1_databases`, while the top level still
has one (wrangler only warns; the env's Worker silently has no database)."""

from __future__ import annotations

from helm_guard import jsonc
from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import Located, commit_fault, delete_member
from helm_guard.drill.scenarios._setup import env_with_d1

NAME = "env-lost-d1"
TITLE = "An env lost its d1_databases (inheritance trap)"
HYPOTHESIS = ("When an env's d1_databases is deleted while the top level keeps one, the commit "
              "is refused and the gate blocks (HG701: envs do not inherit bindings).")
FAULT = ("the d1_databases member of one env removed; the top level's left in place (a fleet "
         "without such an env gets one first: a stage declared, registered and added).")
FRESH = False


def run(ws: Workspace, rec: Record) -> None:
    rel, env, shop = env_with_d1(ws, rec)
    rec.begin("inject")
    doc = jsonc.parse_text(ws.read(rel), rel)
    place = Located(shop, rel, ("env", env), None, doc.key_span(("env", env)).line)
    delete_member(ws, rel, ("env", env, "d1_databases"))
    commit_fault(ws, rec, f"drill: drop d1_databases from env {env} of {rel}", [place], "HG701")
