"""Scenario 16: a staff member's session token leaked: `helm-guard revoke-sessions` refuses
ids that are SQL, then revokes exactly that staff member's sessions in the shop's own database
(the registry's, even though the shop's config was tampered to bind another shop's database),
verifies, records, and ends with the runbook's next steps."""

from __future__ import annotations

import json
import sys
from typing import Any

from helm_guard.drill import Record
from helm_guard.drill.sandbox import Workspace
from helm_guard.drill.scenarios._common import CannotInject, FleetView, expect_exit
from helm_guard.fleet import Tenant

NAME = "leaked-session"
TITLE = "Leaked session token: revoke one staff member's sessions"
HYPOTHESIS = ("`revoke-sessions --staff \"42 OR 1=1\"` and `--staff 42;DROP` are refused "
              "(exit 2) before any query; `revoke-sessions --staff 42 --yes` deletes exactly "
              "staff 42's sessions in shop A's registry database, never queries shop B's "
              "database although A's config binds it, leaves other staff's sessions, and "
              "records the event (ledger + incident file) with the next steps.")
FAULT = ("emulated D1: shop A's and shop B's databases each hold sessions of staff 42; A's "
         "config is edited to bind B's database id.")
FRESH = True
STAFF = 42
DDL = ("CREATE TABLE {table} (id TEXT PRIMARY KEY, {column} INTEGER NOT NULL, "
       "token_hash TEXT NOT NULL)")


def _count(emu: Any, db: str, table: str, column: str) -> dict[Any, int]:
    rows = emu.d1_execute(db, f"SELECT {column} AS s, COUNT(*) AS n FROM {table} "
                              f"GROUP BY {column} ORDER BY {column}")
    return {r["s"]: r["n"] for r in rows}


def _rekey(ws: Workspace, old: str, new: str, files: list[str]) -> None:
    """Give a registry database id a new value everywhere it is written (the emulator picks
    its own ids): the fleet stays consistent."""
    for rel in files:
        text = ws.read(rel)
        if old in text:
            ws.write(rel, text.replace(old, new))


def run(ws: Workspace, rec: Record) -> None:
    from helm_guard.sessions import sessions_table

    rec.begin("set-up")
    view = FleetView(ws)
    a, b = view.pair("d1_databases", "database_id")
    exp_a, exp_b = view.fleet.expected(Tenant(a.shop)), view.fleet.expected(Tenant(b.shop))
    if not exp_a.database_id or not exp_b.database_id:
        raise CannotInject("the two shops need registry database ids")
    emu = ws.sandbox.emulator
    id_a = emu.add_d1_database(exp_a.database_name)
    id_b = emu.add_d1_database(exp_b.database_name)
    files = sorted({ws.fleet_file.relative_to(ws.path).as_posix(), a.rel, b.rel})
    _rekey(ws, exp_a.database_id, id_a, files)
    _rekey(ws, exp_b.database_id, id_b, files)
    run = ws.commit("git commit (database ids of the emulated account)",
                    "drill: registry ids of the emulated databases")
    expect_exit(rec, "the re-keyed fleet passes the pre-commit check", run, 0)
    table, column = sessions_table(view.fleet)
    for db, counts in ((id_a, {STAFF: 3, 7: 2}), (id_b, {STAFF: 2})):
        emu.d1_execute(db, DDL.format(table=table, column=column))
        emu.d1_executemany(db, f"INSERT INTO {table} VALUES (?, ?, ?)",
                           [(f"{db[:8]}-{s}-{i}", s, f"h{i}") for s, n in counts.items()
                            for i in range(n)])
    # the tamper: shop A's config binds shop B's database (the registry still says A's)
    text = ws.read(a.rel)
    ws.write(a.rel, text.replace(id_a, id_b))
    ws.commit("git commit --no-verify (tampered binding)", f"drill: {a.shop} binds {b.shop}'s db",
              verify=False)

    rec.begin("refuse SQL as an id")
    emu.clear_requests()
    for bad in (f"{STAFF} OR 1=1", f"{STAFF};DROP"):
        run = ws.helm(f"helm-guard revoke-sessions --staff {bad!r}", "revoke-sessions",
                      "--shop", a.shop, "--staff", bad, "--yes", *ws.fleet_args())
        if expect_exit(rec, f"--staff {bad!r} is refused as not an id", run, 2):
            rec.timing("block", run.seconds)
    rec.expect("nothing was sent to Cloudflare for the refused ids", "0 requests",
               f"{len(emu.requests)} requests", not emu.requests)
    rec.expect("no session was deleted", f"A {{{STAFF}: 3, 7: 2}}",
               str(_count(emu, id_a, table, column)),
               _count(emu, id_a, table, column) == {7: 2, STAFF: 3})

    rec.begin("revoke")
    run = ws.helm("helm-guard revoke-sessions --yes", "revoke-sessions", "--shop", a.shop,
                  "--staff", str(STAFF), "--yes", *ws.fleet_args())
    if expect_exit(rec, "revoke-sessions completes and verifies", run, 0):
        rec.timing("restore", run.seconds)
    left_a, left_b = _count(emu, id_a, table, column), _count(emu, id_b, table, column)
    rec.expect(f"exactly staff {STAFF}'s sessions are gone from shop {a.shop}'s database",
               "{7: 2}", str(left_a), left_a == {7: 2})
    rec.expect(f"shop {b.shop}'s database is untouched", f"{{{STAFF}: 2}}", str(left_b),
               left_b == {STAFF: 2})
    touched = sorted({r["path"].split("/d1/database/")[1].split("/")[0]
                      for r in emu.requests if "/d1/database/" in r["path"]})
    rec.expect(f"only shop {a.shop}'s registry database was addressed (not the one its "
               "config binds)", f"[{id_a}]", str(touched), touched == [id_a])
    said = all(w in run.stdout for w in ("Rotate the staff member's PIN", "Email the shop owner"))
    rec.expect("the output ends with the runbook's next steps", "rotate PIN, email owner",
               "given" if said else f"missing: {rec.excerpt(run)}", said)

    rec.begin("record")
    found = sorted((ws.path / "docs" / "incidents").glob(f"*-{a.shop}-sessions*.md"))
    rec.expect("an incident file is written", f"docs/incidents/*-{a.shop}-sessions.md",
               found[-1].name if found else "none", bool(found))
    code = ("import json, sys\nfrom helm_guard import state\n"
            "print(json.dumps([e.record for e in state.read_ledger('.', 'origin', sys.argv[1])]))")
    led = ws.run("read the ledger", [sys.executable, "-c", code, a.shop])
    try:
        records = json.loads(led.stdout)
    except ValueError:
        records = []
    last = records[-1] if records else {}
    ok = (last.get("action") == "revoke-sessions" and last.get("staff") == STAFF
          and last.get("count") == 3 and bool(last.get("actor")) and bool(last.get("finished")))
    rec.expect("the ledger records who, when, shop, staff and count",
               f"revoke-sessions staff {STAFF} count 3",
               f"{last.get('action')} staff {last.get('staff')} count {last.get('count')}", ok)
