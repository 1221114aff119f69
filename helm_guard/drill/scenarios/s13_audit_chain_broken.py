"""Scenario 13: the runbook's "Audit chain verification failed". A row of the shop's audit log
is edited in place (a DBA-style direct edit); `audit-chain` must find that row (and only it),
show its neighbours and list the difference from the monthly archive in the shop's bucket."""

from __future__ import annotations

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import expect_exit
from helm_guard.drill.scenarios._recovery import prepare

NAME = "audit-chain-broken"
TITLE = "Audit chain broken by a direct edit: found at that row, diffed with the archive"
HYPOTHESIS = ("`audit-chain` passes an intact chain (exit 0), and after one row is edited in "
              "place it exits 1 (SEV1) naming exactly that row, its neighbours, and the "
              "archived value it differs from; it reads only.")
FAULT = ("shop A's D1 audit_events row 150 of 200: action changed by a direct UPDATE (chain "
         "hashes left as they were); the monthly archives in A's bucket are intact.")
FRESH = True
NEEDS_WRANGLER = False
ROW = 150


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("set-up")
    shop, emu = prepare(ws)
    rec.expect("set-up: a chained audit log of 200 rows and two monthly archives",
               "200 rows", f"{shop.slug}: {shop.database_name}", True)

    rec.begin("intact")
    run = ws.helm("helm-guard audit-chain (intact)", "audit-chain", "--shop", shop.slug,
                  "--page", "64", *ws.fleet_args())
    expect_exit(rec, "an intact chain passes", run, 0)
    rec.expect("every row is checked", "200 row(s) checked",
               "yes" if "200 row(s) checked" in run.output else rec.excerpt(run),
               "200 row(s) checked" in run.output)

    rec.begin("detect")
    emu.d1_execute(shop.database_id,
                   f"UPDATE audit_events SET action = 'refund-forged' WHERE id = {ROW}")
    emu.clear_requests()
    run = ws.helm("helm-guard audit-chain (after the edit)", "audit-chain", "--shop",
                  shop.slug, "--page", "64", *ws.fleet_args())
    if expect_exit(rec, "a broken chain exits 1 (SEV1)", run, 1):
        rec.timing("detect", run.seconds)
    first = f"FIRST BROKEN ROW: id {ROW} (hash)"
    rec.expect("the first broken row is the edited one", first,
               "found" if first in run.output else rec.excerpt(run), first in run.output)
    only = f"broken rows: 1: {ROW}"
    rec.expect("no other row is reported broken", only,
               "only that row" if only in run.output else rec.excerpt(run), only in run.output)
    diff = f"id {ROW} changed: action"
    rec.expect("the archive comparison lists exactly that row and field", diff,
               "listed" if diff in run.output and "1 row(s) differ" in run.output
               else rec.excerpt(run), diff in run.output and "1 row(s) differ" in run.output)
    writes = [r for r in emu.requests if r["method"] not in ("GET",) and not (
        r["path"].endswith("/query") and str(r["body"].get("sql", "")).startswith("SELECT"))]
    rec.expect("the check only reads", "no write request", f"{len(writes)} write(s)", not writes)
