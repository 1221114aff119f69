"""Scenario 1: two shops' D1 database names swapped in their configs."""

from __future__ import annotations

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import commit_fault, swap
from helm_guard.drill.scenarios._setup import ensure_pair

NAME = "d1-name-swap"
TITLE = "D1 database names swapped between two shops"
HYPOTHESIS = ("A commit that swaps two shops' D1 database_name is refused by the pre-commit "
              "hook, and the deploy gate blocks it; both point at both lines.")
FAULT = "database_name of shop A's and shop B's D1 bindings exchanged in their config files."
FRESH = False


def run(ws: Workspace, rec: Record) -> None:
    a, b = ensure_pair(ws, rec, "d1_databases", "database_name")
    rec.begin("inject")
    swap(ws, a, b)
    commit_fault(ws, rec, f"drill: swap the D1 names of {a.shop} and {b.shop}", [a, b])
