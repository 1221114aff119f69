"""Scenario 14: the runbook's "D1 data-lost / Data restoration from backup", rehearsed end to
end and undone: a SQL backup in the shop's bucket, the data lost, `restore --dry-run` (no
write), `restore --yes` (undo point first, data back, chain verified, recorded), then the
undo command from its output puts the database back as it was before the restore."""

from __future__ import annotations

import re

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import expect_exit
from helm_guard.drill.scenarios._recovery import count, prepare

NAME = "data-loss-restore"
TITLE = "D1 data lost: restore from the shop's SQL backup, verify, record, undo"
HYPOTHESIS = ("`restore --backup` lists the shop's backups, changes nothing in a dry run, "
              "restores every row with the audit chain intact, records the undo bookmark in "
              "the ledger and the incident file, and the printed undo command works.")
FAULT = ("shop A's D1: every audit_events row deleted after the nightly SQL backup "
         "backups/db/2026-05-31.sql was written to A's bucket.")
FRESH = True
NEEDS_WRANGLER = False
BACKUP = "backups/db/2026-05-31.sql"


def run(ws: Workspace, rec: Record) -> None:
    rec.begin("set-up")
    shop, emu = prepare(ws, rows=120)
    emu.r2_put_object(shop.bucket, BACKUP, emu.d1_dump(shop.database_id).encode())
    emu.d1_execute(shop.database_id, "DELETE FROM audit_events")
    rec.expect("set-up: the backup is in the shop's bucket and the data is lost",
               "0 rows left", f"{count(emu, shop)} rows left", count(emu, shop) == 0)

    rec.begin("dry run")
    emu.clear_requests()
    run = ws.helm("helm-guard restore --dry-run", "restore", "--shop", shop.slug, "--backup",
                  BACKUP, "--dry-run", *ws.fleet_args())
    expect_exit(rec, "the dry run shows the plan", run, 0)
    rec.expect("the plan lists the candidate backups and the rows in the backup",
               f"{BACKUP} and 'audit_events 120'",
               "shown" if BACKUP in run.output and "audit_events 120" in run.output
               else rec.excerpt(run), BACKUP in run.output and "audit_events 120" in run.output)
    writes = [r for r in emu.requests if r["method"] != "GET" and not (
        r["path"].endswith("/query") and str(r["body"].get("sql", "")).startswith("SELECT"))]
    rec.expect("the dry run sends no write", "0 writes", f"{len(writes)} write(s)", not writes)

    rec.begin("restore")
    run = ws.helm("helm-guard restore --yes", "restore", "--shop", shop.slug, "--backup",
                  BACKUP, "--yes", *ws.fleet_args())
    if expect_exit(rec, "the restore completes and verifies", run, 0):
        rec.timing("restore", run.seconds)
    rec.expect("every row is back", "120 rows", f"{count(emu, shop)} rows",
               count(emu, shop) == 120)
    rec.expect("the audit chain is intact after the restore", "intact (120 rows)",
               "intact" if "intact (120 rows)" in run.output else rec.excerpt(run),
               "intact (120 rows)" in run.output)
    m = re.search(r"undo: `(helm-guard restore --shop \S+ --bookmark (\S+))`", run.output)
    incidents = sorted((ws.path / "docs" / "incidents").glob(f"*{shop.slug}*.md"))
    text = incidents[-1].read_text(encoding="utf-8") if incidents else ""
    recorded = bool(m) and m is not None and m.group(1) in text
    rec.expect("the incident file records the undo command", "the undo command in the file",
               "recorded" if recorded else "missing", recorded)

    rec.begin("undo")
    if m is None:
        rec.expect("the output names the undo command", "undo: `...`", rec.excerpt(run), False)
        return
    run = ws.helm("helm-guard restore --bookmark <undo> --yes", "restore", "--shop", shop.slug,
                  "--bookmark", m.group(2), "--yes", *ws.fleet_args())
    expect_exit(rec, "the undo command runs", run, 0)
    rec.expect("the undo puts the database back as it was before the restore", "0 rows",
               f"{count(emu, shop)} rows", count(emu, shop) == 0)
