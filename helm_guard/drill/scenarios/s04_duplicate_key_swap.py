"""Scenario 4: a swap hidden under a duplicate key: the first `database_id` is right, the last
one (which wrangler uses) is another shop's."""

from __future__ import annotations

import json

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import commit_fault, insert_member
from helm_guard.drill.scenarios._setup import ensure_pair

NAME = "duplicate-key-swap"
TITLE = "Swap hidden under a duplicate key"
HYPOTHESIS = ("A D1 binding whose first database_id is correct but whose repeated (last, "
              "effective) database_id is another shop's is blocked (HG102 duplicate key), and "
              "inspect shows the value wrangler would really deploy.")
FAULT = ("a second \"database_id\" key with shop B's id added after shop A's correct one, in "
         "the same D1 binding object.")
FRESH = False


def run(ws: Workspace, rec: Record) -> None:
    a, b = ensure_pair(ws, rec, "d1_databases", "database_id")
    rec.begin("inject")
    insert_member(ws, a.rel, a.path[:-1], "database_id", b.value, after=a.path)
    rec.begin("inspect")
    run_ = ws.helm("helm-guard inspect", "inspect", a.rel, "--format", "json")
    effective = None
    try:
        data = json.loads(run_.stdout)
        files = data if isinstance(data, list) else [data]
        env = a.path[1] if a.path[0] == "env" else None
        for t in files[0]["targets"]:
            if t["env"] == env:
                effective = t["d1_databases"][a.path[-2]]["database_id"]
    except (ValueError, LookupError, TypeError):
        effective = None
    rec.expect("inspect reports the value wrangler would deploy (the last duplicate)",
               f"database_id {b.value} (shop {b.shop}'s)", f"database_id {effective}",
               effective == b.value)
    commit_fault(ws, rec, f"drill: hide {b.shop}'s D1 id under a duplicate key of {a.shop}",
                 [a], "HG102")
