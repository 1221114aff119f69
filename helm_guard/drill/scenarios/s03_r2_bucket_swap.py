"""Scenario 3: two shops' R2 buckets swapped."""

from __future__ import annotations

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import commit_fault, swap
from helm_guard.drill.scenarios._setup import ensure_pair

NAME = "r2-bucket-swap"
TITLE = "R2 buckets swapped between two shops"
HYPOTHESIS = ("A commit that swaps two shops' R2 bucket_name is refused by the pre-commit hook "
              "and blocked by the gate, pointing at both lines.")
FAULT = "bucket_name of shop A's and shop B's R2 bindings exchanged."
FRESH = False


def run(ws: Workspace, rec: Record) -> None:
    a, b = ensure_pair(ws, rec, "r2_buckets", "bucket_name")
    rec.begin("inject")
    swap(ws, a, b)
    commit_fault(ws, rec, f"drill: swap the R2 buckets of {a.shop} and {b.shop}", [a, b])
