"""Scenario 2: two shops' D1 database ids swapped, names left correct: only the registry
(HG403) can tell."""

from __future__ import annotations

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import commit_fault, swap
from helm_guard.drill.scenarios._setup import ensure_pair

NAME = "d1-id-swap"
TITLE = "D1 database ids swapped, names correct"
HYPOTHESIS = ("A commit that swaps two shops' D1 database_id while every name stays right is "
              "blocked by the registry check (HG403) in the pre-commit hook and in the gate.")
FAULT = "database_id of shop A's and shop B's D1 bindings exchanged; database_name untouched."
FRESH = False
RULE = "HG403"


def run(ws: Workspace, rec: Record) -> None:
    a, b = ensure_pair(ws, rec, "d1_databases", "database_id")
    rec.begin("inject")
    swap(ws, a, b)
    commit_fault(ws, rec, f"drill: swap the D1 ids of {a.shop} and {b.shop}", [a, b], RULE)
